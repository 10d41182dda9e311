"""COCO evaluation wiring: perfect predictions score 1, misses score 0, shards cover once."""

import pytest
import torch

from wnlb_zoo.data import SyntheticDarkScenes, coco_ground_truth
from wnlb_zoo.engine.evaluation import ShardSampler, coco_metrics, detections_to_coco


def perfect_predictions(dataset):
    results, ids = [], []
    for index in range(len(dataset)):
        _, target = dataset[index]
        output = {
            "boxes": target["boxes"],
            "labels": target["labels"],
            "scores": torch.ones(len(target["labels"])),
            "masks": target["masks"][:, None].float(),
        }
        results += detections_to_coco(output, int(target["image_id"]), {1: 1, 2: 2, 3: 3})
        ids.append(int(target["image_id"]))
    return results, ids


def test_ground_truth_as_predictions_scores_one():
    dataset = SyntheticDarkScenes(4, image_size=(64, 64), seed=5)
    results, ids = perfect_predictions(dataset)
    metrics = coco_metrics(coco_ground_truth(dataset), results, ids, {1: "disc", 2: "square", 3: "triangle"})
    for iou_type in ("bbox", "segm"):
        assert metrics[iou_type]["AP"] == pytest.approx(1.0)
        assert metrics[iou_type]["AP50"] == pytest.approx(1.0)
    present = {name for name, value in metrics["segm"]["per_class"].items() if value > 0}
    assert present and all(metrics["segm"]["per_class"][name] == pytest.approx(1.0) for name in present)


def test_shifted_boxes_and_no_detections_score_lower():
    dataset = SyntheticDarkScenes(4, image_size=(64, 64), seed=5)
    results, ids = perfect_predictions(dataset)
    for result in results:
        result["bbox"][0] += result["bbox"][2] * 0.6  # IoU well below 0.5
    names = {1: "disc", 2: "square", 3: "triangle"}
    metrics = coco_metrics(coco_ground_truth(dataset), results, ids, names)
    assert metrics["bbox"]["AP50"] == pytest.approx(0.0)
    empty = coco_metrics(coco_ground_truth(dataset), [], ids, names)
    assert empty["segm"]["AP"] == 0.0 and set(empty["segm"]["per_class"]) == set(names.values())


def test_a_validation_set_without_annotations_measures_nothing():
    """No ground truth: AP is None (shown as '-'), with or without detections, never a 0 that could be 'best'."""
    dataset = SyntheticDarkScenes(3, image_size=(64, 64), seed=5)
    ground_truth = coco_ground_truth(dataset)
    ground_truth.dataset["annotations"] = []
    ground_truth.createIndex()
    results, ids = perfect_predictions(dataset)
    names = {1: "disc", 2: "square", 3: "triangle"}
    for detections in ([], results):
        metrics = coco_metrics(ground_truth, detections, ids, names)
        for iou_type in ("bbox", "segm"):
            assert set(metrics[iou_type].pop("per_class").values()) == {None}
            assert set(metrics[iou_type].values()) == {None}


@pytest.mark.parametrize("length, world", [(5, 2), (7, 3), (1, 4), (0, 2)])
def test_shards_cover_every_index_exactly_once(length, world):
    seen = [index for rank in range(world) for index in ShardSampler(length, rank, world)]
    assert sorted(seen) == list(range(length))


def test_box_only_results_report_no_mask_ap_and_leave_results_untouched():
    dataset = SyntheticDarkScenes(3, image_size=(64, 64), seed=5)
    results, ids = perfect_predictions(dataset)
    box_only = [{k: v for k, v in r.items() if k != "segmentation"} for r in results]
    snapshot = [dict(r) for r in box_only]
    metrics = coco_metrics(coco_ground_truth(dataset), box_only, ids, {1: "disc", 2: "square", 3: "triangle"})
    assert "segm" not in metrics and metrics["bbox"]["AP"] == pytest.approx(1.0)
    assert box_only == snapshot  # pycocotools' loadRes worked on copies


def test_detections_on_crowd_regions_are_ignored_and_missing_fields_are_filled(tmp_path):
    import json

    import numpy as np
    import pycocotools.mask as mask_utils

    from wnlb_zoo.data import CocoInstances, write_image

    write_image(torch.zeros(3, 32, 32), tmp_path / "a.png")
    object_mask = np.zeros((32, 32), np.uint8, order="F")
    object_mask[2:12, 2:12] = 1
    crowd_mask = np.zeros((32, 32), np.uint8, order="F")
    crowd_mask[16:30, 16:30] = 1
    crowd_rle = mask_utils.encode(crowd_mask)
    content = {
        "images": [{"id": 1, "file_name": "a.png", "height": 32, "width": 32}],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [  # the first has neither 'iscrowd' nor 'area', as many exporters write
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10],
             "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [16, 16, 14, 14], "iscrowd": 1, "area": 196.0,
             "segmentation": {"size": [32, 32], "counts": crowd_rle["counts"].decode("ascii")}},
        ],
    }  # fmt: skip
    (tmp_path / "ann.json").write_text(json.dumps(content))
    dataset = CocoInstances(tmp_path, tmp_path / "ann.json")
    assert dataset.coco.anns[1]["iscrowd"] == 0 and dataset.coco.anns[1]["area"] > 0
    output = {
        "boxes": torch.tensor([[2.0, 2, 12, 12], [16, 16, 30, 30]]),
        "labels": torch.tensor([1, 1]),
        "scores": torch.tensor([0.9, 0.95]),
        "masks": torch.from_numpy(np.stack([object_mask, crowd_mask])).float()[:, None],
    }
    results = detections_to_coco(output, 1, {1: 1})
    metrics = coco_metrics(coco_ground_truth(dataset), results, [1], {1: "thing"})
    assert metrics["bbox"]["AP"] == pytest.approx(1.0) and metrics["segm"]["AP"] == pytest.approx(1.0)
