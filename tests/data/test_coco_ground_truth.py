"""COCO ground truth from datasets: perfect detections must score an AP of 1 against it."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.cocoeval import COCOeval
from torch.utils.data import Subset

from wnlb_zoo.data import (
    CocoInstances,
    RandomHorizontalFlip,
    SyntheticDarkScenes,
    category_ids_for_labels,
    coco_ground_truth,
    train_val_split,
)


def _perfect_detections(dataset) -> list[dict]:
    """The dataset's own non-crowd targets written as detections with score 1."""
    mapping = category_ids_for_labels(dataset)
    detections = []
    for index in range(len(dataset)):
        _, target = dataset[index]
        for k, (x1, y1, x2, y2) in enumerate(target["boxes"].tolist()):
            if target["iscrowd"][k]:
                continue
            rle = mask_utils.encode(np.asfortranarray(target["masks"][k].numpy()))
            detections.append(
                {
                    "image_id": target["image_id"],
                    "category_id": mapping[int(target["labels"][k])],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")},
                    "score": 1.0,
                }
            )
    return detections


def _average_precision(ground_truth, detections, kind: str) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(detections), kind)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[0])


@pytest.mark.parametrize("kind", ["bbox", "segm"])
def test_synthetic_ground_truth_scores_perfect_detections(kind):
    dataset = SyntheticDarkScenes(6, image_size=(64, 64), seed=0)
    ground_truth = coco_ground_truth(dataset)
    assert sorted(ground_truth.getImgIds()) == list(range(6))
    assert [c["name"] for c in ground_truth.loadCats(ground_truth.getCatIds())] == dataset.class_names
    assert len(ground_truth.getAnnIds()) == sum(len(dataset[i][1]["labels"]) for i in range(6))
    assert _average_precision(ground_truth, _perfect_detections(dataset), kind) == pytest.approx(1.0)


def test_subset_ground_truth_covers_only_the_subset():
    dataset = SyntheticDarkScenes(10, image_size=(48, 48), seed=1)
    _, val = train_val_split(dataset, 0.3, seed=0)
    ground_truth = coco_ground_truth(val)
    assert sorted(ground_truth.getImgIds()) == val.indices
    assert _average_precision(ground_truth, _perfect_detections(val), "segm") == pytest.approx(1.0)


@pytest.fixture
def coco_dataset_files(tmp_path):
    masks = np.zeros((3, 16, 20), dtype=np.uint8)
    masks[0, 2:8, 3:9] = 1
    masks[1, 9:15, 10:18] = 1
    masks[2, 0:4, 14:20] = 1
    images, annotations = [], []
    for image_id in (4, 9, 13):
        Image.new("RGB", (20, 16), (image_id * 10, 50, 90)).save(tmp_path / f"{image_id}.png")
        images.append({"id": image_id, "file_name": f"{image_id}.png", "height": 16, "width": 20})
    for ann_id, (image_id, k, category_id, crowd) in enumerate([(4, 0, 3, 0), (4, 1, 8, 0), (9, 2, 3, 1)], start=1):
        rle = mask_utils.encode(np.asfortranarray(masks[k]))
        annotations.append(
            {
                "id": ann_id,
                "image_id": image_id,
                "category_id": category_id,
                "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")},
                "bbox": mask_utils.toBbox(rle).tolist(),
                "area": float(masks[k].sum()),
                "iscrowd": crowd,
            }
        )
    content = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 3, "name": "a"}, {"id": 8, "name": "b"}],
    }
    (tmp_path / "ann.json").write_text(json.dumps(content))
    return tmp_path, tmp_path / "ann.json"


def test_coco_instances_use_their_own_ground_truth(coco_dataset_files):
    images_dir, annotation_file = coco_dataset_files
    dataset = CocoInstances(images_dir, annotation_file)
    assert coco_ground_truth(dataset) is dataset.coco
    assert category_ids_for_labels(dataset) == {1: 3, 2: 8}
    assert _average_precision(dataset.coco, _perfect_detections(dataset), "segm") == pytest.approx(1.0)

    subset = Subset(dataset, [0, 1])
    restricted = coco_ground_truth(subset)
    assert sorted(restricted.getImgIds()) == [4, 9]
    assert sorted(restricted.getAnnIds()) == [1, 2, 3]
    assert restricted.anns[3]["iscrowd"] == 1


def test_transformed_coco_instances_are_read_item_by_item(coco_dataset_files):
    images_dir, annotation_file = coco_dataset_files
    dataset = CocoInstances(images_dir, annotation_file, transforms=RandomHorizontalFlip(p=1.0))
    ground_truth = coco_ground_truth(dataset)
    assert ground_truth is not dataset.coco
    assert category_ids_for_labels(dataset) == {1: 1, 2: 2}
    flipped = ground_truth.loadAnns(ground_truth.getAnnIds(imgIds=[4], catIds=[1]))[0]
    assert flipped["bbox"] == [20 - 9, 2, 6, 6]
    assert [ann["iscrowd"] for ann in ground_truth.loadAnns(ground_truth.getAnnIds(imgIds=[9]))] == [1]
    assert _average_precision(ground_truth, _perfect_detections(dataset), "bbox") == pytest.approx(1.0)
