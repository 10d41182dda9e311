"""CocoInstances on a fixture written here: every segmentation kind, crowd, empty images, sparse ids, bad files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as mask_utils

from wnlb_zoo.data import AnnotationError, CocoInstances, ImageReadError, masks_to_boxes

HEIGHT, WIDTH = 8, 10


def _mask(rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[rows, cols] = 1
    return mask


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE: run lengths over the column-major pixels, starting with a run of zeros."""
    flat = mask.flatten(order="F")
    counts, current, run = [], 0, 0
    for value in flat:
        if value == current:
            run += 1
        else:
            counts.append(run)
            current, run = value, 1
    counts.append(run)
    return {"size": [HEIGHT, WIDTH], "counts": [int(c) for c in counts]}


def _compressed_rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def _xywh(mask: np.ndarray) -> list[float]:
    x1, y1, x2, y2 = masks_to_boxes(torch.from_numpy(mask)[None])[0].tolist()
    return [x1, y1, x2 - x1, y2 - y1]


# The expected instances of image 10, in annotation-id order: (mask, category id, iscrowd).
POLYGON_MASK = _mask(slice(1, 4), slice(1, 5))  # the polygon below covers rows 1..3, columns 1..4
UNCOMPRESSED_MASK = _mask(slice(5, 7), slice(6, 9))
COMPRESSED_MASK = _mask(slice(0, 2), slice(7, 10))
CROWD_MASK = _mask(slice(4, 8), slice(0, 3))


def _content() -> dict:
    annotations = [
        {
            "id": 1,
            "image_id": 10,
            "category_id": 12,
            "segmentation": [[1, 1, 5, 1, 5, 4, 1, 4]],
            "bbox": _xywh(POLYGON_MASK),
            "area": 12.0,
            "iscrowd": 0,
        },
        {
            "id": 2,
            "image_id": 10,
            "category_id": 0,
            "segmentation": _uncompressed_rle(UNCOMPRESSED_MASK),
            "bbox": _xywh(UNCOMPRESSED_MASK),
            "iscrowd": 0,
        },  # no "area": computed from the mask
        {
            "id": 3,
            "image_id": 10,
            "category_id": 5,
            "segmentation": _compressed_rle(COMPRESSED_MASK),
            "bbox": _xywh(COMPRESSED_MASK),
            "area": 6.0,
        },  # no "iscrowd": 0
        {
            "id": 7,
            "image_id": 10,
            "category_id": 0,
            "segmentation": _compressed_rle(CROWD_MASK),
            "bbox": _xywh(CROWD_MASK),
            "area": 12.0,
            "iscrowd": 1,
        },
        {
            "id": 9,
            "image_id": 7,
            "category_id": 5,
            "segmentation": [[2, 2, 2, 5, 2.5, 5]],
            "bbox": [2, 2, 0, 3],
            "area": 0.0,
            "iscrowd": 0,
        },  # zero-width box: dropped
    ]
    return {
        "images": [
            {"id": 10, "file_name": "rgb.png", "height": HEIGHT, "width": WIDTH},
            {"id": 3, "file_name": "sub/gray.png", "height": HEIGHT, "width": WIDTH},
            {"id": 7, "file_name": "rgba.png", "height": HEIGHT, "width": WIDTH},
        ],
        "annotations": annotations,
        "categories": [{"id": 12, "name": "twelve"}, {"id": 0, "name": "zero"}, {"id": 5, "name": "five"}],
    }


@pytest.fixture
def coco_files(tmp_path: Path) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """(images_dir, annotation_file, pixels by file name) of the fixture dataset."""
    images_dir = tmp_path / "images"
    (images_dir / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    pixels = {
        "rgb.png": rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8),
        "sub/gray.png": rng.integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint8),
        "rgba.png": rng.integers(0, 256, (HEIGHT, WIDTH, 4), dtype=np.uint8),
    }
    for name, array in pixels.items():
        Image.fromarray(array).save(images_dir / name)
    annotation_file = tmp_path / "instances.json"
    annotation_file.write_text(json.dumps(_content()))
    return images_dir, annotation_file, pixels


def test_targets_are_exact(coco_files):
    images_dir, annotation_file, pixels = coco_files
    dataset = CocoInstances(images_dir, annotation_file)
    assert dataset.ids == [3, 7, 10]
    assert dataset.class_names == ["zero", "five", "twelve"]
    assert dataset.label_to_category_id == {1: 0, 2: 5, 3: 12}
    assert dataset.num_degenerate_dropped == 1
    assert dataset.num_instances == 4

    image, target = dataset[2]
    assert image.dtype == torch.float32 and image.shape == (3, HEIGHT, WIDTH)
    torch.testing.assert_close(image, torch.from_numpy(pixels["rgb.png"]).permute(2, 0, 1).float() / 255)
    assert target["image_id"] == 10
    expected_masks = np.stack([POLYGON_MASK, UNCOMPRESSED_MASK, COMPRESSED_MASK, CROWD_MASK])
    assert target["masks"].dtype == torch.uint8
    assert torch.equal(target["masks"], torch.from_numpy(expected_masks))
    assert target["boxes"].dtype == torch.float32
    assert target["boxes"].tolist() == [[1, 1, 5, 4], [6, 5, 9, 7], [7, 0, 10, 2], [0, 4, 3, 8]]
    assert torch.equal(target["boxes"], masks_to_boxes(target["masks"]))
    assert target["labels"].dtype == torch.int64
    assert target["labels"].tolist() == [3, 1, 2, 1]
    assert target["iscrowd"].tolist() == [0, 0, 0, 1]
    assert target["area"].dtype == torch.float32
    assert target["area"].tolist() == [12.0, 6.0, 6.0, 12.0]  # the second computed from its mask


def test_empty_images_and_conversions(coco_files):
    images_dir, annotation_file, pixels = coco_files
    dataset = CocoInstances(images_dir, annotation_file)
    for index, name in ((0, "sub/gray.png"), (1, "rgba.png")):
        image, target = dataset[index]
        assert target["boxes"].shape == (0, 4) and target["boxes"].dtype == torch.float32
        assert target["masks"].shape == (0, HEIGHT, WIDTH)
        assert target["labels"].shape == (0,) and target["iscrowd"].shape == (0,) and target["area"].shape == (0,)
        if name == "sub/gray.png":
            expected = torch.from_numpy(pixels[name]).float()[None].expand(3, -1, -1) / 255
        else:  # alpha dropped
            expected = torch.from_numpy(pixels[name][..., :3]).permute(2, 0, 1).float() / 255
        torch.testing.assert_close(image, expected)


def test_keep_empty_off_drops_images_left_without_annotations(coco_files):
    images_dir, annotation_file, _ = coco_files
    dataset = CocoInstances(images_dir, annotation_file, keep_empty=False)
    assert dataset.ids == [10]  # image 3 has no annotation, image 7 only a degenerate one
    assert len(dataset) == 1 and dataset[0][1]["image_id"] == 10


def test_transforms_are_applied(coco_files):
    images_dir, annotation_file, _ = coco_files

    def swap_channels(image, target):
        return image.flip(0), {**target, "seen": True}

    image, target = CocoInstances(images_dir, annotation_file, transforms=swap_channels)[2]
    plain, _ = CocoInstances(images_dir, annotation_file)[2]
    assert target["seen"] and torch.equal(image, plain.flip(0))


def _break(content: dict, case: str) -> None:
    annotations = {annotation["id"]: annotation for annotation in content["annotations"]}
    if case == "images":
        del content["images"]
    elif case == "bbox":
        del annotations[7]["bbox"]
    elif case == "category_id":
        annotations[2]["category_id"] = 99
    elif case == "image_id":
        annotations[3]["image_id"] = 999
    elif case == "size":
        annotations[3]["segmentation"]["size"] = [HEIGHT + 1, WIDTH]
    elif case == "polygon":
        annotations[1]["segmentation"] = [[1, 1, 5, 1]]
    elif case == "duplicate":
        content["images"][1]["id"] = 10
    elif case == "file_name":
        del content["images"][0]["file_name"]
    elif case == "counts":
        annotations[2]["segmentation"]["counts"] = [3, 4]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("images", "missing 'images'"),
        ("bbox", "(id 7) has no 'bbox'"),
        ("category_id", "'category_id' 99 not in 'categories'"),
        ("image_id", "'image_id' 999 not in 'images'"),
        ("size", "'size'"),
        ("polygon", "polygon"),
        ("duplicate", "duplicate image 'id' 10"),
        ("file_name", "has no 'file_name'"),
        ("counts", "'counts' cover 7 pixels"),
    ],
)
def test_malformed_file_names_file_and_field(coco_files, case, expected):
    images_dir, annotation_file, _ = coco_files
    content = copy.deepcopy(_content())
    _break(content, case)
    annotation_file.write_text(json.dumps(content))
    with pytest.raises(AnnotationError) as error:
        CocoInstances(images_dir, annotation_file)
    assert str(annotation_file) in str(error.value)
    assert expected in str(error.value)
    assert isinstance(error.value, ValueError)


def test_invalid_json_gives_line_number(coco_files):
    images_dir, annotation_file, _ = coco_files
    annotation_file.write_text('{\n  "images": [],\n  "annotations": [,]\n}')
    with pytest.raises(AnnotationError, match="line 3") as error:
        CocoInstances(images_dir, annotation_file)
    assert str(annotation_file) in str(error.value)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.json"):
        CocoInstances(tmp_path, tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("content", "error_type", "expected"),
    [
        (b"", ImageReadError, "empty"),
        (b"\x89PNG\r\n\x1a\n this is not a png", ImageReadError, "cannot decode"),
        (None, FileNotFoundError, "not found"),
    ],
)
def test_bad_image_file_is_named(coco_files, content, error_type, expected):
    images_dir, annotation_file, _ = coco_files
    path = images_dir / "rgb.png"
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    dataset = CocoInstances(images_dir, annotation_file)
    with pytest.raises(error_type, match=expected) as error:
        dataset[2]
    assert str(path) in str(error.value)


def test_image_size_must_match_the_annotation(coco_files):
    images_dir, annotation_file, _ = coco_files
    Image.new("RGB", (WIDTH + 2, HEIGHT)).save(images_dir / "rgb.png")
    with pytest.raises(AnnotationError, match="rgb.png") as error:
        CocoInstances(images_dir, annotation_file)[2]
    assert "'height' x 'width'" in str(error.value)
