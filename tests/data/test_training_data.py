"""``build_data`` refuses COCO-format training data that holds nothing to learn from."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from wnlb_zoo.engine.data_sources import DataSettings, build_data


def _write_split(folder, crowd: list[int]) -> tuple[str, str]:
    """Two 16 px images; one annotation per entry of ``crowd`` (its iscrowd), all on the first image."""
    images = folder / "images"
    images.mkdir(parents=True)
    for index in range(2):
        pixels = np.random.default_rng(index).integers(0, 256, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"{index}.png")
    annotations = [
        {
            "id": position + 1,
            "image_id": 0,
            "category_id": 1,
            "segmentation": [[2, 2, 10, 2, 10, 10, 2, 10]],
            "bbox": [2, 2, 8, 8],
            "iscrowd": iscrowd,
        }
        for position, iscrowd in enumerate(crowd)
    ]
    content = {
        "images": [{"id": index, "file_name": f"{index}.png", "height": 16, "width": 16} for index in range(2)],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "thing"}],
    }
    annotation_file = folder / "instances.json"
    annotation_file.write_text(json.dumps(content))
    return str(annotation_file), str(images)


def _settings(tmp_path, train_crowd: list[int]) -> DataSettings:
    train_ann, train_images = _write_split(tmp_path / "train", train_crowd)
    val_ann, val_images = _write_split(tmp_path / "val", [0])
    return DataSettings(
        dataset="coco", train_ann=train_ann, train_images=train_images, val_ann=val_ann, val_images=val_images
    )


@pytest.mark.parametrize(
    ("train_crowd", "expected"), [([], "hold no annotation"), ([1, 1], "hold only 2 crowd region(s) (iscrowd=1)")]
)
def test_training_data_without_objects_is_refused(tmp_path, train_crowd, expected):
    settings = _settings(tmp_path, train_crowd)
    with pytest.raises(ValueError, match="nothing to train on") as error:
        build_data(settings)
    assert str(error.value).startswith(f"{settings.train_ann}: the 2 training image(s) {expected}")


def test_one_object_is_enough(tmp_path):
    data = build_data(_settings(tmp_path, [1, 0]))
    assert data.class_names == ("thing",) and len(data.train) == 2
