"""Data sources: the validation side alone (a test set needs no training files), and a COCO validation
split held out of the training images that is seeded, recorded and rebuilt exactly or refused."""

from __future__ import annotations

import dataclasses
import json

import pytest
from PIL import Image

from wnlb_zoo.data import LIS_CLASS_NAMES
from wnlb_zoo.engine.data_sources import DataSettings, build_data


def coco_settings(coco_dataset, **changes) -> DataSettings:
    images, annotations = coco_dataset
    return DataSettings(dataset="coco", train_ann=str(annotations), train_images=str(images), **changes)


def image_ids(dataset) -> list[int]:
    return [int(dataset[index][1]["image_id"]) for index in range(len(dataset))]


def test_coco_training_data_alone_holds_out_a_seeded_validation_share(coco_dataset):
    data = build_data(coco_settings(coco_dataset, val_fraction=0.34, seed=4))
    train, val = image_ids(data.train), image_ids(data.val)
    assert len(val) == 2 and not set(train) & set(val)
    assert sorted(train + val) == list(range(100, 106))  # every image, the empty one included, once
    assert sorted(data.ground_truth.getImgIds()) == sorted(val)  # scored on the held-out images only
    again = build_data(coco_settings(coco_dataset, val_fraction=0.34, seed=4))
    assert image_ids(again.val) == val and again.val_split_sha256 == data.val_split_sha256
    other_seed = build_data(coco_settings(coco_dataset, val_fraction=0.34, seed=5))
    assert other_seed.val_split_sha256 != data.val_split_sha256


def test_drop_empty_removes_empty_images_from_training_but_keeps_the_split(coco_dataset):
    kept = build_data(coco_settings(coco_dataset, val_fraction=0.34, seed=4))
    dropped = build_data(coco_settings(coco_dataset, val_fraction=0.34, seed=4, keep_empty=False))
    assert image_ids(dropped.val) == image_ids(kept.val)
    assert set(image_ids(dropped.train)) == set(image_ids(kept.train)) - {100}  # image 100 has no annotation


def test_a_recorded_split_is_rebuilt_or_refused(coco_dataset):
    settings = coco_settings(coco_dataset, val_fraction=0.34, seed=4)
    recorded = dataclasses.replace(settings, val_split_sha256=build_data(settings).val_split_sha256)
    assert image_ids(build_data(recorded, train=False).val) == image_ids(build_data(settings).val)
    _, annotations = coco_dataset
    content = json.loads(annotations.read_text())
    content["images"] = content["images"][1:]  # the file changed since the run: other images in the split
    content["annotations"] = [a for a in content["annotations"] if a["image_id"] != 100]
    annotations.write_text(json.dumps(content))
    with pytest.raises(ValueError, match="holds other images than the run held out"):
        build_data(recorded, train=False)


def test_a_coco_test_set_needs_only_its_own_files(coco_dataset):
    images, annotations = coco_dataset
    data = build_data(DataSettings(dataset="coco", val_ann=str(annotations), val_images=str(images)), train=False)
    assert data.train is None and len(data.val) == 6 and data.val_split_sha256 is None
    assert data.class_names == ("disc", "square", "triangle")
    with pytest.raises(ValueError, match="--dataset coco needs --val-ann --val-images"):
        build_data(DataSettings(dataset="coco"), train=False)
    with pytest.raises(ValueError, match="needs --val-images"):
        build_data(DataSettings(dataset="coco", val_ann=str(annotations)), train=False)
    with pytest.raises(ValueError, match="--dataset coco needs --train-ann --train-images .*--val-fraction"):
        build_data(DataSettings(dataset="coco"))


def test_the_lis_test_split_is_read_without_the_training_split(tmp_path):
    content = {
        "images": [{"id": 5, "file_name": "./JPEGImages/6.JPG", "height": 8, "width": 12}],
        "annotations": [
            {"id": 1, "image_id": 5, "category_id": 7, "segmentation": [[1, 1, 6, 1, 6, 5, 1, 5]],
             "bbox": [1, 1, 5, 4], "area": 20, "iscrowd": 0}
        ],
        "categories": [{"id": i, "name": name} for i, name in enumerate(LIS_CLASS_NAMES)],
    }  # fmt: skip
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "lis_coco_JPG_test+1.json").write_text(json.dumps(content))
    (tmp_path / "RGB-dark" / "JPEGImages").mkdir(parents=True)
    Image.new("RGB", (12, 8), (3, 2, 1)).save(tmp_path / "RGB-dark" / "JPEGImages" / "6.JPG", format="JPEG")
    data = build_data(DataSettings(dataset="lis", root=str(tmp_path)), train=False)  # no train annotation file
    assert data.train is None and image_ids(data.val) == [5] and data.class_names == LIS_CLASS_NAMES
    with pytest.raises(FileNotFoundError):
        build_data(DataSettings(dataset="lis", root=str(tmp_path)))  # training needs the train split


def test_synthetic_validation_alone_is_the_runs_validation_set():
    settings = DataSettings(synthetic_train=2, synthetic_val=3, synthetic_size=32, seed=7)
    alone, full = build_data(settings, train=False), build_data(settings)
    assert alone.train is None
    assert all((alone.val[i][0] == full.val[i][0]).all() for i in range(3))
