"""Reading and checking a COCO-format instance annotation file.

pycocotools trusts its input: a missing ``bbox`` or an unknown ``category_id`` surfaces much later
as a ``KeyError`` deep inside a training step. :func:`read_coco_instances` checks the fields a
detection dataset relies on up front and raises :class:`AnnotationError`, whose message names the
file and the field, e.g. ``ann.json: annotations[3] (id 7) has no 'bbox'``.

What is checked: the three top-level lists; every image has an integer ``id`` (unique), a
``file_name`` and positive integer ``height``/``width``; every category has an integer ``id``
(unique) and a ``name``; every annotation has a unique integer ``id``, an ``image_id`` among the
images, a ``category_id`` among the categories, a ``bbox`` of four finite numbers, a
``segmentation`` that is either polygons (lists of at least three x, y pairs) or RLE (``counts``
and a ``size`` equal to the image's ``[height, width]``, the runs covering exactly its pixels; a
compressed ``counts`` string is decoded to check it), and, when present, ``iscrowd`` in {0, 1}
and a numeric ``area``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from .rle import compressed_rle_counts


class AnnotationError(ValueError):
    """A malformed annotation file; the message names the file and the offending field."""


_Fail = Callable[[str], NoReturn]


def read_coco_instances(path: str | os.PathLike) -> dict[str, Any]:
    """Parse and check a COCO-format instance annotation file; return its content as a dict."""
    path = Path(path)
    content = read_coco_json(path)
    _check_instances(content, path)
    return content


def read_coco_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; errors name the file (and the line and column of a syntax error)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"annotation file not found: {path}") from None
    except UnicodeDecodeError as error:
        raise AnnotationError(f"{path}: not UTF-8 text ({error})") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise AnnotationError(
            f"{path}: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from error


def _check_instances(content: Any, path: Path) -> None:
    def fail(message: str) -> NoReturn:
        raise AnnotationError(f"{path}: {message}")

    if not isinstance(content, dict):
        fail(f"the top level must be a JSON object, got {type(content).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in content:
            fail(f"missing '{key}'")
        if not isinstance(content[key], list):
            fail(f"'{key}' must be a list, got {type(content[key]).__name__}")

    image_sizes: dict[int, tuple[int, int]] = {}
    for position, image in enumerate(content["images"]):
        where = f"images[{position}]"
        _require_mapping(image, where, fail)
        image_id = _require_int(image, "id", where, fail)
        where = f"images[{position}] (id {image_id})"
        if image_id in image_sizes:
            fail(f"{where}: duplicate image 'id' {image_id}")
        if not isinstance(image.get("file_name"), str) or not image["file_name"]:
            fail(f"{where} has no 'file_name'")
        height = _require_int(image, "height", where, fail)
        width = _require_int(image, "width", where, fail)
        if height <= 0 or width <= 0:
            fail(f"{where}: 'height' and 'width' must be positive, got {height}x{width}")
        image_sizes[image_id] = (height, width)

    category_ids: set[int] = set()
    for position, category in enumerate(content["categories"]):
        where = f"categories[{position}]"
        _require_mapping(category, where, fail)
        category_id = _require_int(category, "id", where, fail)
        if category_id in category_ids:
            fail(f"{where}: duplicate category 'id' {category_id}")
        if not isinstance(category.get("name"), str):
            fail(f"{where} (id {category_id}) has no 'name'")
        category_ids.add(category_id)

    annotation_ids: set[int] = set()
    for position, annotation in enumerate(content["annotations"]):
        where = f"annotations[{position}]"
        _require_mapping(annotation, where, fail)
        annotation_id = _require_int(annotation, "id", where, fail)
        where = f"annotations[{position}] (id {annotation_id})"
        if annotation_id in annotation_ids:
            fail(f"{where}: duplicate annotation 'id' {annotation_id}")
        annotation_ids.add(annotation_id)
        image_id = _require_int(annotation, "image_id", where, fail)
        if image_id not in image_sizes:
            fail(f"{where}: 'image_id' {image_id} not in 'images'")
        category_id = _require_int(annotation, "category_id", where, fail)
        if category_id not in category_ids:
            fail(f"{where}: 'category_id' {category_id} not in 'categories'")
        _check_bbox(annotation, where, fail)
        _check_segmentation(annotation, image_sizes[image_id], where, fail)
        if annotation.get("iscrowd", 0) not in (0, 1):
            fail(f"{where}: 'iscrowd' must be 0 or 1, got {annotation['iscrowd']!r}")
        if "area" in annotation and not _is_number(annotation["area"]):
            fail(f"{where}: 'area' must be a number, got {annotation['area']!r}")


def _require_mapping(item: Any, where: str, fail: _Fail) -> None:
    if not isinstance(item, dict):
        fail(f"{where} must be a JSON object, got {type(item).__name__}")


def _require_int(item: dict, key: str, where: str, fail: _Fail) -> int:
    if key not in item:
        fail(f"{where} has no '{key}'")
    value = item[key]
    if isinstance(value, bool) or not isinstance(value, int):
        fail(f"{where}: '{key}' must be an integer, got {value!r}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_bbox(annotation: dict, where: str, fail: _Fail) -> None:
    if "bbox" not in annotation:
        fail(f"{where} has no 'bbox'")
    bbox = annotation["bbox"]
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
        fail(f"{where}: 'bbox' must be [x, y, width, height] of finite numbers, got {bbox!r}")


def _check_segmentation(annotation: dict, image_size: tuple[int, int], where: str, fail: _Fail) -> None:
    if "segmentation" not in annotation:
        fail(f"{where} has no 'segmentation'")
    segmentation = annotation["segmentation"]
    if isinstance(segmentation, list):
        if not segmentation:
            fail(f"{where}: 'segmentation' is an empty list of polygons")
        for polygon in segmentation:
            if (
                not isinstance(polygon, list)
                or len(polygon) < 6
                or len(polygon) % 2
                or not all(_is_number(v) for v in polygon)
            ):
                fail(f"{where}: each 'segmentation' polygon must be a flat list of at least three x, y pairs")
        return
    if isinstance(segmentation, dict):
        counts, size = segmentation.get("counts"), segmentation.get("size")
        if not isinstance(counts, str | list):
            fail(f"{where}: RLE 'segmentation' has no 'counts' (a string or a list of run lengths)")
        if list(size or ()) != list(image_size):
            fail(f"{where}: RLE 'segmentation' 'size' {size!r} is not the image's [height, width] {list(image_size)}")
        if isinstance(counts, list):
            if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
                fail(f"{where}: RLE 'segmentation' 'counts' must be non-negative integers")
            covered = sum(counts)
        else:
            try:
                covered = int(compressed_rle_counts(counts).sum())
            except ValueError as error:
                fail(f"{where}: RLE 'segmentation' 'counts' is not a compressed RLE string: {error}")
        pixels = image_size[0] * image_size[1]
        if covered != pixels:
            fail(f"{where}: RLE 'segmentation' 'counts' cover {covered} pixels, the image has {pixels}")
        return
    fail(f"{where}: 'segmentation' must be a list of polygons or an RLE object, got {type(segmentation).__name__}")
