"""COCO ground truth for any detection dataset, so pycocotools' COCOeval can score it.

:class:`~wnlb_zoo.data.coco.CocoInstances` (and LIS) already hold the file's ``COCO`` object:
without ``transforms`` it is used as is (restricted to the dataset's images when it is a
``Subset`` or drops empty images), with the file's category ids. Any other dataset (Penn-Fudan,
synthetic scenes, a transformed COCO dataset) is read item by item and its targets become the
ground truth: masks RLE-encoded, ``iscrowd`` and ``area`` kept, category id = label.
:func:`category_ids_for_labels` gives the label -> category id mapping to write detections with.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from torch.utils.data import Dataset, Subset

from .coco import CocoInstances


def coco_ground_truth(dataset: Dataset) -> COCO:
    """The pycocotools ground truth of ``dataset`` (a dataset of ``(image, target)`` or a ``Subset`` of one)."""
    base, indices = _unwrap_subsets(dataset)
    if isinstance(base, CocoInstances) and base.transforms is None:
        image_ids = [base.ids[index] for index in indices]
        if len(image_ids) == len(base.coco.imgs):
            return base.coco
        return _restricted(base.coco, image_ids)
    return _from_targets(dataset, getattr(base, "class_names", None))


def category_ids_for_labels(dataset: Dataset) -> dict[int, int]:
    """Label -> category id of the ground truth :func:`coco_ground_truth` builds for ``dataset``.

    The file's ids for an untransformed :class:`CocoInstances`; the identity otherwise (covering
    the labels 1..K of ``class_names`` when the dataset has them).
    """
    base, _ = _unwrap_subsets(dataset)
    if isinstance(base, CocoInstances) and base.transforms is None:
        return dict(base.label_to_category_id)
    class_names = getattr(base, "class_names", None)
    if class_names is None:
        raise ValueError(f"{type(base).__name__} has no class_names: the labels cannot be listed")
    return {label: label for label in range(1, len(class_names) + 1)}


def _unwrap_subsets(dataset: Dataset) -> tuple[Dataset, list[int]]:
    """The innermost dataset and the indices into it that ``dataset`` (possibly nested Subsets) covers."""
    indices = list(range(len(dataset)))
    while isinstance(dataset, Subset):
        indices = [dataset.indices[index] for index in indices]
        dataset = dataset.dataset
    return dataset, indices


def _build(content: dict) -> COCO:
    coco = COCO()
    coco.dataset = content
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco.createIndex()
    return coco


def _restricted(coco: COCO, image_ids: list[int]) -> COCO:
    keep = set(image_ids)
    content = dict(coco.dataset)
    content["images"] = [image for image in coco.dataset["images"] if image["id"] in keep]
    content["annotations"] = [ann for ann in coco.dataset["annotations"] if ann["image_id"] in keep]
    return _build(content)


def _from_targets(dataset: Dataset, class_names: list[str] | None) -> COCO:
    images, annotations = [], []
    max_label = 0
    for index in range(len(dataset)):
        image, target = dataset[index]
        image_id = int(target["image_id"])
        height, width = image.shape[-2:]
        images.append({"id": image_id, "height": int(height), "width": int(width), "file_name": ""})
        boxes = target["boxes"].tolist()
        masks = target["masks"].numpy() if "masks" in target else None
        for k, (x1, y1, x2, y2) in enumerate(boxes):
            label = int(target["labels"][k])
            max_label = max(max_label, label)
            annotation = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": label,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": float(target["area"][k]),
                "iscrowd": int(target["iscrowd"][k]),
            }
            if masks is not None:
                rle = mask_utils.encode(np.asfortranarray(masks[k].astype(np.uint8)))
                annotation["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            annotations.append(annotation)
    if len({image["id"] for image in images}) != len(images):
        raise ValueError(f"{type(dataset).__name__}: 'image_id' values repeat; COCO evaluation needs them unique")
    names = list(class_names) if class_names is not None else [f"class_{label}" for label in range(1, max_label + 1)]
    categories = [{"id": label, "name": name} for label, name in enumerate(names, start=1)]
    return _build({"images": images, "annotations": annotations, "categories": categories})
