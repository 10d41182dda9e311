"""COCO evaluation (pycocotools) of a detector, sharded over ranks and gathered on rank 0.

Each rank predicts a disjoint shard of the validation images (no padding, unlike
``DistributedSampler``), so every image is evaluated exactly once; rank 0 gathers the
detections and runs COCOeval for boxes and masks: AP, AP50, AP75, APs/m/l and per-class AP.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pycocotools.mask as mask_utils
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data import collate_detection
from .distributed import DistributedContext, all_gather_objects

SUMMARY_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl")
IOU_TYPES = ("bbox", "segm")


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...``: disjoint shards that together cover the dataset once."""

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.indices = list(range(rank, length, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def evaluation_loader(dataset: Dataset, context: DistributedContext, batch_size: int, workers: int) -> DataLoader:
    """A loader over this rank's shard of ``dataset``."""
    sampler = ShardSampler(len(dataset), context.rank, context.world_size)
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, collate_fn=collate_detection
    )


@torch.inference_mode()
def predict_coco_results(
    model: nn.Module, loader: DataLoader, label_to_category_id: dict[int, int], device: torch.device
) -> tuple[list[dict[str, Any]], list[int]]:
    """Run ``model`` over ``loader``; return COCO-format results and the image ids seen."""
    model.eval()
    results: list[dict[str, Any]] = []
    image_ids: list[int] = []
    for images, targets in loader:
        outputs = model([image.to(device) for image in images])
        for target, output in zip(targets, outputs, strict=True):
            image_id = int(target["image_id"])
            image_ids.append(image_id)
            results.extend(detections_to_coco(output, image_id, label_to_category_id))
    return results, image_ids


def detections_to_coco(
    output: dict[str, torch.Tensor], image_id: int, label_to_category_id: dict[int, int]
) -> list[dict[str, Any]]:
    """One image's detections as COCO results (xywh boxes; masks thresholded at 0.5, as RLE)."""
    boxes = output["boxes"].float().cpu().clone()  # xyxy -> xywh below, without touching the output
    boxes[:, 2:] -= boxes[:, :2]
    scores = output["scores"].float().cpu().tolist()
    labels = output["labels"].cpu().tolist()
    rles = []
    if "masks" in output:
        binary = (output["masks"][:, 0] > 0.5).cpu().numpy().astype(np.uint8)
        rles = mask_utils.encode(np.asfortranarray(binary.transpose(1, 2, 0)))
    results = []
    for index, (box, score, label) in enumerate(zip(boxes.tolist(), scores, labels, strict=True)):
        result = {"image_id": image_id, "category_id": label_to_category_id[label], "bbox": box, "score": score}
        if rles:
            rle = rles[index]
            result["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
        results.append(result)
    return results


def coco_metrics(
    ground_truth: COCO, results: list[dict[str, Any]], image_ids: list[int], class_names: dict[int, str]
) -> dict[str, Any]:
    """COCOeval summaries for ``bbox`` (and ``segm`` when the results carry masks), with per-class AP.

    Args:
        ground_truth: The validation ground truth.
        results: Detections in COCO results format (not modified).
        image_ids: The images evaluated (images without detections count as misses).
        class_names: Category id -> name, for the per-class table.

    A value is None where COCOeval has nothing to measure (no ground truth of that size or class,
    or none at all), and 0 where there was ground truth but no detection found it.
    Each pass gets its own copies of the results: pycocotools' ``loadRes`` edits them, and would
    turn boxes into polygon "masks". The mask pass drops the boxes so that small/medium/large
    follow the mask area, as in COCO's own evaluation.
    """
    iou_types = IOU_TYPES if any("segmentation" in r for r in results) or not results else ("bbox",)
    metrics: dict[str, Any] = {}
    for iou_type in iou_types:
        dropped = "segmentation" if iou_type == "bbox" else "bbox"
        relevant = [{k: v for k, v in r.items() if k != dropped} for r in results]
        with contextlib.redirect_stdout(io.StringIO()):
            detections = _load_results(ground_truth, relevant)
            evaluator = COCOeval(ground_truth, detections, iou_type)
            evaluator.params.imgIds = sorted(set(image_ids))
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        summary: dict[str, Any] = {name: _measured(evaluator.stats[i]) for i, name in enumerate(SUMMARY_NAMES)}
        summary["per_class"] = _per_class_ap(evaluator, class_names)
        metrics[iou_type] = summary
    return metrics


def evaluate(
    model: nn.Module,
    dataset: Dataset,
    ground_truth: COCO,
    label_to_category_id: dict[int, int],
    class_names: dict[int, str],
    context: DistributedContext,
    batch_size: int = 2,
    workers: int = 0,
) -> dict[str, Any] | None:
    """Evaluate ``model`` on ``dataset`` across all ranks; the metrics on rank 0, None elsewhere.

    The metrics include ``num_images`` (distinct images evaluated) and ``num_predictions``
    (images predicted, summed over ranks): both equal ``len(dataset)`` when each image ran once.
    """
    loader = evaluation_loader(dataset, context, batch_size, workers)
    results, image_ids = predict_coco_results(model, loader, label_to_category_id, context.device)
    gathered = all_gather_objects((results, image_ids), context)
    if not context.is_main:
        return None
    all_results = [r for rank_results, _ in gathered for r in rank_results]
    all_ids = [i for _, rank_ids in gathered for i in rank_ids]
    metrics = coco_metrics(ground_truth, all_results, all_ids, class_names)
    metrics["num_images"] = len(set(all_ids))
    metrics["num_predictions"] = len(all_ids)
    return metrics


def _load_results(ground_truth: COCO, results: list[dict[str, Any]]) -> COCO:
    """pycocotools' ``loadRes``, which fails on an empty list: no detections become an empty result set."""
    if results:
        return ground_truth.loadRes(results)
    empty = COCO()
    empty.dataset = {**ground_truth.dataset, "annotations": []}
    empty.createIndex()
    return empty


def _measured(value: float) -> float | None:
    """COCOeval's -1 ("nothing to measure") as None."""
    return float(value) if value >= 0 else None


def _per_class_ap(evaluator: COCOeval, class_names: dict[int, str]) -> dict[str, float | None]:
    """AP over IoU 0.5:0.95 per category (area all, 100 detections); None for a class without ground truth."""
    precision = evaluator.eval["precision"]  # (IoU, recall, category, area, max detections)
    per_class = {}
    for index, category_id in enumerate(evaluator.params.catIds):
        values = precision[:, :, index, 0, -1]
        values = values[values > -1]
        per_class[class_names.get(category_id, str(category_id))] = float(values.mean()) if values.size else None
    return per_class
