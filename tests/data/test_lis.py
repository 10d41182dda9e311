"""LIS reader: file naming, the +1 dark-id convention, and the real test annotations when present."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from wnlb_zoo.data import LIS, LIS_CLASS_NAMES, AnnotationError, lis_annotation_name


@pytest.mark.parametrize(
    ("split", "variant", "name"),
    [
        ("test", "RGB-dark", "lis_coco_JPG_test+1.json"),
        ("train", "RGB-normal", "lis_coco_JPG_train.json"),
        ("traintest", "RAW-dark", "lis_coco_png_traintest+1.json"),
        ("test", "RAW-normal", "lis_coco_png_test.json"),
    ],
)
def test_annotation_file_names(split, variant, name):
    assert lis_annotation_name(split, variant) == name


def test_unknown_split_or_variant():
    with pytest.raises(ValueError, match="variant"):
        lis_annotation_name("test", "RGB-bright")
    with pytest.raises(ValueError, match="split"):
        lis_annotation_name("val", "RGB-dark")


def _lis_json(suffix: str, names=LIS_CLASS_NAMES) -> dict:
    # Normal image 5 and its dark partner 6; the "+1" file points at the dark one under the normal id.
    return {
        "images": [{"id": 5, "file_name": f"./JPEGImages/6{suffix}", "height": 8, "width": 12}],
        "annotations": [
            {
                "id": 1,
                "image_id": 5,
                "category_id": 7,
                "segmentation": [[1, 1, 6, 1, 6, 5, 1, 5]],
                "bbox": [1, 1, 5, 4],
                "area": 20,
                "iscrowd": 0,
            }
        ],
        "categories": [{"id": i, "name": name} for i, name in enumerate(names)],
    }


@pytest.fixture
def lis_root(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "lis_coco_JPG_test+1.json").write_text(json.dumps(_lis_json(".JPG")))
    (tmp_path / "annotations" / "lis_coco_png_test+1.json").write_text(json.dumps(_lis_json(".JPG")))
    (tmp_path / "RGB-dark" / "JPEGImages").mkdir(parents=True)
    Image.new("RGB", (12, 8), (3, 2, 1)).save(tmp_path / "RGB-dark" / "JPEGImages" / "6.JPG", format="JPEG")
    return tmp_path


def test_layout_reads_the_dark_variant(lis_root):
    dataset = LIS(lis_root, split="test", variant="RGB-dark")
    assert dataset.class_names == list(LIS_CLASS_NAMES)
    assert dataset.label_to_category_id[8] == 7
    image, target = dataset[0]
    assert image.shape == (3, 8, 12) and image.mean() < 0.05
    assert target["image_id"] == 5 and target["labels"].tolist() == [8]
    assert target["boxes"].tolist() == [[1, 1, 6, 5]]


def test_variant_must_match_the_image_kind(lis_root):
    with pytest.raises(AnnotationError, match="not a .png file"):
        LIS(lis_root, split="test", variant="RAW-dark")


def test_categories_must_be_those_of_lis(tmp_path):
    path = tmp_path / "lis_coco_JPG_test+1.json"
    path.write_text(json.dumps(_lis_json(".JPG", names=("cat",) * 8)))
    with pytest.raises(AnnotationError, match="categories"):
        LIS.from_annotation_file(path)


@pytest.mark.shared_data
def test_real_test_annotations(shared_data):
    dataset = LIS.from_annotation_file(shared_data("lis_annotations", "lis_coco_JPG_test+1.json"))
    assert (dataset.split, dataset.variant) == ("test", "RGB-dark")
    assert len(dataset) == 669
    assert dataset.num_instances == 2934
    assert dataset.num_degenerate_dropped == 0
    assert dataset.class_names == list(LIS_CLASS_NAMES)
    assert dataset.class_names == ["bicycle", "chair", "diningtable", "bottle", "motorbike", "car", "tvmonitor", "bus"]
    assert dataset.label_to_category_id == {label: label - 1 for label in range(1, 9)}
    # The "+1" convention: each dark file is numbered one after its (normal) image id.
    assert all(image["file_name"] == f"./JPEGImages/{image['id'] + 1}.JPG" for image in dataset.coco.imgs.values())
    target = dataset.load_target(0)
    assert target["masks"].shape[1:] == (800, 1200)
    with pytest.raises(FileNotFoundError, match="JPEGImages"):
        dataset[0]
