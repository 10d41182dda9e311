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
    elif case == "garbage_rle":
        annotations[3]["segmentation"]["counts"] = "garbage!!"
    elif case == "cut_rle":
        annotations[7]["segmentation"]["counts"] = annotations[7]["segmentation"]["counts"] + "a"
    elif case == "short_rle":
        annotations[3]["segmentation"]["counts"] = annotations[3]["segmentation"]["counts"][:-1]


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
        ("garbage_rle", "(id 3): RLE 'segmentation' 'counts' is not a compressed RLE string"),
        ("cut_rle", "(id 7): RLE 'segmentation' 'counts' is not a compressed RLE string: its last number is cut"),
        ("short_rle", "(id 3): RLE 'segmentation' 'counts' cover"),
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


def _break_image(path: Path, case: str) -> None:
    """Damage the image file ``path`` (a PNG of the fixture) as ``case`` says."""
    if case == "missing":
        path.unlink()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "not_an_image":
        path.write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    elif case == "cut_png":
        path.write_bytes(path.read_bytes()[:-20])
    elif case == "cut_jpeg":
        picture = np.random.default_rng(1).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        Image.fromarray(picture).save(path, format="JPEG")
        path.write_bytes(path.read_bytes()[:-40])
    elif case == "wrong_size":
        Image.new("RGB", (WIDTH + 2, HEIGHT)).save(path)


BAD_IMAGES = [
    ("missing", "image file not found"),
    ("empty", "empty (0 bytes)"),
    ("not_an_image", "cannot decode"),
    ("cut_png", "truncated"),
    ("cut_jpeg", "truncated"),
    ("wrong_size", "is 8x12 but image id 10 is 8x10 ('height' x 'width')"),
]


@pytest.mark.parametrize(("case", "expected"), BAD_IMAGES)
def test_bad_image_files_are_found_when_the_dataset_is_built(coco_files, case, expected):
    images_dir, annotation_file, _ = coco_files
    _break_image(images_dir / "rgb.png", case)
    with pytest.raises(ImageReadError) as error:
        CocoInstances(images_dir, annotation_file)
    message = str(error.value)
    assert message.startswith(f"{annotation_file}: 1 of the 3 image(s) cannot be used")
    assert str(images_dir / "rgb.png") in message and expected in message


def test_every_bad_image_is_counted_and_the_first_are_named(coco_files):
    images_dir, annotation_file, _ = coco_files
    for name in ("rgb.png", "sub/gray.png", "rgba.png"):
        (images_dir / name).unlink()
    with pytest.raises(ImageReadError, match=r"3 of the 3 image\(s\)") as error:
        CocoInstances(images_dir, annotation_file)
    assert all(str(images_dir / name) in str(error.value) for name in ("rgb.png", "sub/gray.png", "rgba.png"))


def test_images_left_out_of_the_items_are_not_checked(coco_files):
    images_dir, annotation_file, _ = coco_files
    (images_dir / "sub" / "gray.png").unlink()  # image 3 has no annotations, image 7 only a degenerate one
    (images_dir / "rgba.png").unlink()
    assert CocoInstances(images_dir, annotation_file, keep_empty=False).ids == [10]


@pytest.mark.parametrize(
    ("case", "error_type", "expected"),
    [
        ("missing", FileNotFoundError, "not found"),
        ("empty", ImageReadError, "empty"),
        ("not_an_image", ImageReadError, "cannot decode"),
        ("cut_jpeg", ImageReadError, "truncated"),
    ],
)
def test_bad_image_read_later_names_the_file_and_the_annotation_file(coco_files, case, error_type, expected):
    images_dir, annotation_file, _ = coco_files
    dataset = CocoInstances(images_dir, annotation_file)
    _break_image(images_dir / "rgb.png", case)  # after the check, e.g. changed during a run
    with pytest.raises(error_type, match=expected) as error:
        dataset[2]
    assert str(error.value).startswith(f"{annotation_file}: image id 10: ")
    assert str(images_dir / "rgb.png") in str(error.value)


def test_image_size_is_checked_on_access_without_the_file_check(coco_files):
    images_dir, annotation_file, _ = coco_files
    Image.new("RGB", (WIDTH + 2, HEIGHT)).save(images_dir / "rgb.png")
    with pytest.raises(AnnotationError, match="rgb.png") as error:
        CocoInstances(images_dir, annotation_file, check_images=False)[2]
    assert "'height' x 'width'" in str(error.value)
