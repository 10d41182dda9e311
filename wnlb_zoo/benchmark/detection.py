"""Benchmark of Mask R-CNN: a training step and batch-1 inference, torchvision's model against ours.

Every detector sees the same synthetic batch (random images, four box-shaped instances each) at
an image size its transform keeps as it is, and trains with ``lr=0`` so that every step does the
same work. Inference keeps 100 detections per image (``box_score_thresh=0``) so that the mask
head's load does not depend on how a randomly initialised model happens to score its boxes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torchvision.models.detection import maskrcnn_resnet50_fpn

from ..detection import maskrcnn
from .measurement import measure, release_memory
from .precision import autocast

NUM_CLASSES = 91
INSTANCES_PER_IMAGE = 4


@dataclass(frozen=True)
class DetectorSpec:
    """A detector to measure: torchvision's ``maskrcnn_resnet50_fpn`` (``backbone=None``) or our builder."""

    label: str
    backbone: str | None
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)


#: Named configurations; any other name is taken as a timm backbone for our builder.
DETECTOR_PRESETS: dict[str, DetectorSpec] = {
    "torchvision_resnet50": DetectorSpec("torchvision maskrcnn_resnet50_fpn", None),
    "resnet50": DetectorSpec("ours resnet50", "resnet50"),
    "wnlb_resnet50": DetectorSpec("ours wnlb_resnet50 (exact, stages 1-4)", "wnlb_resnet50"),
    "wnlb_resnet50_kv2": DetectorSpec("ours wnlb_resnet50 kv_stride=2", "wnlb_resnet50", {"wnlb_kv_stride": 2}),
    "wnlb_resnet50_s234": DetectorSpec("ours wnlb_resnet50 stages 2-4", "wnlb_resnet50", {"wnlb_stages": (2, 3, 4)}),
    # Every stage attends over keys on the stride-16 grid: all four blocks, 1/16 of stage 1's exact cost.
    "wnlb_resnet50_keys16": DetectorSpec(
        "ours wnlb_resnet50 kv_stride=(4,2,1,1)", "wnlb_resnet50", {"wnlb_kv_stride": (4, 2, 1, 1)}
    ),
}
DEFAULT_DETECTORS = tuple(DETECTOR_PRESETS)


def detector_spec(name: str) -> DetectorSpec:
    """The preset ``name``, or our builder on the timm backbone ``name``."""
    return DETECTOR_PRESETS.get(name, DetectorSpec(f"ours {name}", name))


def build_detector(spec: DetectorSpec, image_size: tuple[int, int]) -> nn.Module:
    """Mask R-CNN of ``spec``, randomly initialised, whose transform keeps ``image_size`` images as they are."""
    kwargs = dict(num_classes=NUM_CLASSES, min_size=min(image_size), max_size=max(image_size), box_score_thresh=0.0)
    if spec.backbone is None:
        return maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, **kwargs)
    return maskrcnn(spec.backbone, backbone_kwargs=dict(spec.backbone_kwargs), **kwargs)


def synthetic_batch(
    batch: int, image_size: tuple[int, int], device: torch.device, seed: int = 0
) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """Random images in [0, 1] with ``INSTANCES_PER_IMAGE`` box-shaped masks each."""
    generator = torch.Generator().manual_seed(seed)
    height, width = image_size
    images, targets = [], []
    for _ in range(batch):
        corners = torch.rand(INSTANCES_PER_IMAGE, 2, 2, generator=generator) * torch.tensor([width, height])
        low, high = corners.min(dim=1).values, corners.max(dim=1).values + 8
        boxes = torch.cat([low, torch.minimum(high, torch.tensor([width, height]))], dim=1).floor()
        masks = torch.zeros(INSTANCES_PER_IMAGE, height, width, dtype=torch.uint8)
        for mask, (x0, y0, x1, y1) in zip(masks, boxes.int().tolist(), strict=True):
            mask[y0:y1, x0:x1] = 1
        labels = torch.randint(1, NUM_CLASSES, (INSTANCES_PER_IMAGE,), generator=generator)
        images.append(torch.rand(3, height, width, generator=generator).to(device))
        targets.append({"boxes": boxes.to(device), "labels": labels.to(device), "masks": masks.to(device)})
    return images, targets


def run_detection_benchmark(
    device: torch.device,
    detectors: Sequence[str],
    image_size: tuple[int, int],
    batch: int,
    dtype: str,
    warmup: int = 2,
    repeats: int = 5,
    channels_last: bool = False,
    inference: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Training img/s and peak memory at ``batch``, and inference latency at batch 1, per detector."""
    images, targets = synthetic_batch(batch, image_size, device)
    records = []
    for name in detectors:
        spec = detector_spec(name)
        torch.manual_seed(0)
        model = build_detector(spec, image_size).to(device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)

        def train_step(model: nn.Module = model, optimizer: torch.optim.Optimizer = optimizer) -> None:
            with autocast(device, dtype):
                losses = model(images, targets)
            sum(losses.values()).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        def infer_step(model: nn.Module = model) -> None:
            with torch.inference_mode(), autocast(device, dtype):
                model(images[:1])

        phases = [("train", batch, train_step)] + ([("inference", 1, infer_step)] if inference else [])
        for phase, phase_batch, step in phases:
            model.train(phase == "train")
            result = measure(step, device, warmup, repeats)
            record = {
                "part": "detection",
                "detector": name,
                "label": spec.label,
                "backbone_kwargs": {
                    key: list(value) if isinstance(value, tuple) else value
                    for key, value in spec.backbone_kwargs.items()
                },
                "phase": phase,
                "input_size": f"{image_size[0]}x{image_size[1]}",
                "batch": phase_batch,
                "dtype": dtype,
                "channels_last": channels_last,
                "images_per_s": round(phase_batch * 1000.0 / result.median_ms, 3) if result.ok else None,
                **result.as_dict(),
            }
            records.append(record)
            if on_record is not None:
                on_record(record)
        del model, optimizer, train_step, infer_step
        release_memory(device)
    return records
