"""A COCO-format instance segmentation dataset giving torchvision detection targets.

Items are ``(image, target)`` in the format of :mod:`wnlb_zoo.data.target`. What is specific to
COCO files:

- ``labels`` are contiguous 1..K: categories are ordered by their COCO ``id`` (ids may start at 0
  and have gaps), ``class_names[label - 1]`` names a label and ``label_to_category_id`` gives
  back the file's id;
- ``masks`` come from polygons, uncompressed RLE or compressed RLE alike;
- ``boxes`` are the file's ``bbox`` (``[x, y, w, h]`` -> ``x1, y1, x2, y2``) clipped to the image;
  annotations whose box is then empty (width or height <= 0) are dropped and counted in
  ``num_degenerate_dropped``;
- ``image_id`` is the image's COCO ``id``; ``area`` is the file's (the mask's pixel count where
  it is missing, filled in when the file is read);
- crowd regions are kept with ``iscrowd=1``: a training loop leaves them out of the loss and COCO
  evaluation uses them to ignore detections inside them.

The file is checked when the dataset is built (:func:`~wnlb_zoo.data.coco_format.read_coco_instances`),
and so, cheaply, are the image files (:func:`~wnlb_zoo.data.image_io.image_size`: present, of a
known kind, not cut off, of the annotated size), so that a bad file stops a run before training
rather than in a loader worker. Images are read on access; an error then names the file, the
image id and the annotation file.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
import torch
from pycocotools.coco import COCO
from torch.utils.data import Dataset

from .coco_format import AnnotationError, read_coco_instances
from .image_io import ImageReadError, image_size, read_image
from .target import PairTransform, Target, empty_target

_log = logging.getLogger(__name__)
_PROBLEMS_SHOWN = 3  # bad image files named in full by the construction-time check


class CocoInstances(Dataset):
    """COCO-format instances: images under ``images_dir``, annotations in ``annotation_file``.

    Args:
        images_dir: folder the images' ``file_name`` entries are relative to.
        annotation_file: COCO-format instance JSON.
        transforms: a paired transform ``(image, target) -> (image, target)``, e.g. from
            :mod:`wnlb_zoo.data.transforms`.
        keep_empty: keep images that have no annotation left (after dropping degenerate boxes).
            Images whose only annotations are crowd regions count as annotated.
        check_images: check every item's image file from its header when the dataset is built
            (ImageReadError listing the bad files); off for an annotation file whose images are absent.

    Attributes:
        coco: the pycocotools ``COCO`` object of the file (original ids), for evaluation.
        class_names: category names, ``class_names[label - 1]``.
        label_to_category_id: contiguous label -> the file's category id.
        category_id_to_label: the inverse mapping.
        ids: the image ids of the items, in item order (ascending ids).
        num_degenerate_dropped: annotations dropped for an empty box.
    """

    def __init__(
        self,
        images_dir: str | os.PathLike,
        annotation_file: str | os.PathLike,
        transforms: PairTransform | None = None,
        keep_empty: bool = True,
        check_images: bool = True,
    ) -> None:
        self.images_dir = Path(images_dir)
        self.annotation_file = Path(annotation_file)
        self.transforms = transforms
        self.keep_empty = keep_empty

        content = read_coco_instances(self.annotation_file)
        self.coco = COCO()
        self.coco.dataset = content
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            self.coco.createIndex()
        _fill_optional_fields(self.coco)

        categories = sorted(content["categories"], key=lambda category: category["id"])
        self.class_names: list[str] = [category["name"] for category in categories]
        self.label_to_category_id: dict[int, int] = {
            label: category["id"] for label, category in enumerate(categories, start=1)
        }
        self.category_id_to_label: dict[int, int] = {cid: label for label, cid in self.label_to_category_id.items()}

        self._kept_annotations: dict[int, list[dict]] = {}
        self.num_degenerate_dropped = 0
        for image_id in sorted(self.coco.imgs):
            kept = []
            for annotation in self.coco.imgToAnns.get(image_id, []):
                if _clipped_box(annotation["bbox"], self.coco.imgs[image_id]) is None:
                    self.num_degenerate_dropped += 1
                else:
                    kept.append(annotation)
            self._kept_annotations[image_id] = sorted(kept, key=lambda annotation: annotation["id"])
        self.ids: list[int] = [image_id for image_id, kept in self._kept_annotations.items() if kept or self.keep_empty]
        if self.num_degenerate_dropped:
            _log.warning(
                "%s: dropped %d annotation(s) whose box is empty within the image",
                self.annotation_file,
                self.num_degenerate_dropped,
            )
        if check_images:
            self._check_images()

    @property
    def num_classes(self) -> int:
        """Number of object classes K (labels are 1..K)."""
        return len(self.class_names)

    @property
    def num_instances(self) -> int:
        """Number of annotations the items hold (crowd regions included, degenerate boxes not)."""
        return self.instance_counts()[0]

    @property
    def num_objects(self) -> int:
        """Number of annotations the items hold that a detector learns from (crowd regions excluded)."""
        return self.instance_counts()[1]

    def instance_counts(self, indices: Iterable[int] | None = None) -> tuple[int, int]:
        """Annotations and non-crowd annotations of the items ``indices`` (default: all), e.g. of a ``Subset``."""
        image_ids = self.ids if indices is None else [self.ids[index] for index in indices]
        annotations = [annotation for image_id in image_ids for annotation in self._kept_annotations[image_id]]
        return len(annotations), sum(not annotation["iscrowd"] for annotation in annotations)

    def __len__(self) -> int:
        return len(self.ids)

    def image_path(self, index: int) -> Path:
        """The file of item ``index``."""
        return self.images_dir / self.coco.imgs[self.ids[index]]["file_name"]

    def load_target(self, index: int) -> Target:
        """The target of item ``index`` without reading its image (and before ``transforms``)."""
        image_id = self.ids[index]
        info = self.coco.imgs[image_id]
        height, width = info["height"], info["width"]
        annotations = self._kept_annotations[image_id]
        if not annotations:
            return empty_target(image_id, height, width)
        masks = np.stack([self._decode_mask(annotation) for annotation in annotations])
        boxes = [_clipped_box(annotation["bbox"], info) for annotation in annotations]
        area = [float(annotation["area"]) for annotation in annotations]  # filled in by _fill_optional_fields
        return {
            "boxes": torch.tensor(boxes, dtype=torch.float32),
            "labels": torch.tensor(
                [self.category_id_to_label[annotation["category_id"]] for annotation in annotations],
                dtype=torch.int64,
            ),
            "masks": torch.from_numpy(masks),
            "image_id": image_id,
            "area": torch.tensor(area, dtype=torch.float32),
            "iscrowd": torch.tensor([annotation["iscrowd"] for annotation in annotations], dtype=torch.int64),
        }

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Target]:
        path = self.image_path(index)
        info = self.coco.imgs[self.ids[index]]
        try:
            image = read_image(path)
        except (FileNotFoundError, ImageReadError) as error:
            raise type(error)(f"{self.annotation_file}: image id {info['id']}: {error}") from None
        if tuple(image.shape[1:]) != (info["height"], info["width"]):
            raise AnnotationError(
                f"{self.annotation_file}: image id {info['id']} is {info['height']}x{info['width']} "
                f"('height' x 'width') but {path} is {image.shape[1]}x{image.shape[2]}"
            )
        target = self.load_target(index)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def _check_images(self) -> None:
        """Raise ImageReadError naming every item whose image file is missing, unreadable, cut off or
        not of the annotated size (the first few in full)."""
        problems = []
        for image_id in self.ids:
            info = self.coco.imgs[image_id]
            path = self.images_dir / info["file_name"]
            try:
                size = image_size(path)
            except (FileNotFoundError, ImageReadError) as error:
                problems.append(str(error))
                continue
            if size != (info["height"], info["width"]):
                problems.append(
                    f"{path} is {size[0]}x{size[1]} but image id {image_id} is {info['height']}x{info['width']} "
                    "('height' x 'width')"
                )
        if problems:
            listed = "; ".join(problems[:_PROBLEMS_SHOWN]) + ("; ..." if len(problems) > _PROBLEMS_SHOWN else "")
            raise ImageReadError(
                f"{self.annotation_file}: {len(problems)} of the {len(self.ids)} image(s) cannot be used: {listed}. "
                "Replace the files, or remove their entries from the annotation file."
            )

    def _decode_mask(self, annotation: dict) -> np.ndarray:
        # annToMask covers polygons, uncompressed RLE (list counts) and compressed RLE (string counts).
        with warnings.catch_warnings():
            # pycocotools' Cython decoder trips NumPy 2's copy-keyword deprecation; the result is unaffected.
            warnings.filterwarnings("ignore", "__array__ implementation doesn't accept a copy", DeprecationWarning)
            return self.coco.annToMask(annotation).astype(np.uint8, copy=False)


def _clipped_box(bbox: list[float], image_info: dict) -> list[float] | None:
    """COCO ``[x, y, w, h]`` -> ``[x1, y1, x2, y2]`` clipped to the image, or None when empty."""
    x, y, w, h = bbox
    width, height = image_info["width"], image_info["height"]
    x1, y1 = min(max(x, 0.0), width), min(max(y, 0.0), height)
    x2, y2 = min(max(x + w, 0.0), width), min(max(y + h, 0.0), height)
    if x2 <= x1 or y2 <= y1:
        return None
    return [float(x1), float(y1), float(x2), float(y2)]


def _fill_optional_fields(coco: COCO) -> None:
    """Give every annotation the ``iscrowd`` and ``area`` that COCOeval requires (many exporters omit them):
    not crowd, and the pixel count of its segmentation (which read_coco_instances requires of every annotation).

    The annotations of ``coco.anns`` and ``coco.imgToAnns`` are these same dicts, so every lookup sees the fields.
    """
    for annotation in coco.dataset["annotations"]:
        annotation.setdefault("iscrowd", 0)
        if "area" not in annotation:
            annotation["area"] = float(mask_utils.area(coco.annToRLE(annotation)))
