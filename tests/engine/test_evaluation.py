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


@pytest.mark.parametrize("length, world", [(5, 2), (7, 3), (1, 4), (0, 2)])
def test_shards_cover_every_index_exactly_once(length, world):
    seen = [index for rank in range(world) for index in ShardSampler(length, rank, world)]
    assert sorted(seen) == list(range(length))
