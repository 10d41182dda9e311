"""Benchmark of Mask R-CNN: a training step and batch-1 inference, torchvision's model against ours.

Every detector sees the same synthetic batch (random images, four box-shaped instances each) at
an image size its transform keeps as it is, and trains with ``lr=0`` so that every step does the
same work. Inference keeps 100 detections per image (``box_score_thresh=0``) so that the mask
head's load does not depend on how a randomly initialised model happens to score its boxes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torchvision.models.detection import maskrcnn_resnet50_fpn

from ..detection import maskrcnn
from .measurement import Measurement, combine, measure, release_memory
from .precision import autocast

NUM_CLASSES = 91
INSTANCES_PER_IMAGE = 4


@dataclass(frozen=True)
class BenchmarkedDetector:
    """A detector to measure: torchvision's ``maskrcnn_resnet50_fpn`` (``backbone=None``) or our builder."""

    label: str
    backbone: str | None
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)

    def kwargs_record(self) -> dict[str, Any]:
        """``backbone_kwargs`` as JSON values (tuples as lists)."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in self.backbone_kwargs.items()}


#: Named configurations; any other name is taken as a timm backbone for our builder.
DETECTOR_PRESETS: dict[str, BenchmarkedDetector] = {
    "torchvision_resnet50": BenchmarkedDetector("torchvision maskrcnn_resnet50_fpn", None),
    "resnet50": BenchmarkedDetector("ours resnet50", "resnet50"),
    "wnlb_resnet50": BenchmarkedDetector("ours wnlb_resnet50 (exact, stages 1-4)", "wnlb_resnet50"),
    "wnlb_resnet50_kv2": BenchmarkedDetector("ours wnlb_resnet50 kv_stride=2", "wnlb_resnet50", {"wnlb_kv_stride": 2}),
    "wnlb_resnet50_s234": BenchmarkedDetector(
        "ours wnlb_resnet50 stages 2-4", "wnlb_resnet50", {"wnlb_stages": (2, 3, 4)}
    ),
    # All four blocks, keys pooled to the stride-16 grid (stage 4: its own stride-32 grid); stage 1 at 1/16 cost.
    "wnlb_resnet50_keys16": BenchmarkedDetector(
        "ours wnlb_resnet50 kv_stride=(4,2,1,1)", "wnlb_resnet50", {"wnlb_kv_stride": (4, 2, 1, 1)}
    ),
    # All four blocks, keys on the stride-32 grid: stage 1 at 1/64 of its exact cost.
    "wnlb_resnet50_keys32": BenchmarkedDetector(
        "ours wnlb_resnet50 kv_stride=(8,4,2,1)", "wnlb_resnet50", {"wnlb_kv_stride": (8, 4, 2, 1)}
    ),
}
DEFAULT_DETECTORS = tuple(DETECTOR_PRESETS)


def benchmarked_detector(name: str) -> BenchmarkedDetector:
    """The preset ``name``, or our builder on the timm backbone ``name``."""
    return DETECTOR_PRESETS.get(name, BenchmarkedDetector(f"ours {name}", name))


def build_detector(spec: BenchmarkedDetector, image_size: tuple[int, int]) -> nn.Module:
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


@dataclass
class _Trainee:
    """A built detector with its optimiser, kept in host memory except while it is measured."""

    name: str
    spec: BenchmarkedDetector
    model: nn.Module
    optimizer: torch.optim.Optimizer

    @contextlib.contextmanager
    def on(self, device: torch.device) -> Iterator[None]:
        """Move the model and the optimiser's state to ``device`` for the block, back to the host after it."""
        try:
            self._move(device)
            yield
        finally:
            self._move(torch.device("cpu"))
            release_memory(device)

    def measure_on(
        self, device: torch.device, training: bool, step: Callable[[], None], warmup: int, repeats: int
    ) -> Measurement:
        """:func:`measure` of ``step`` with the detector on ``device`` in training or eval mode; running out
        of memory while moving it there is a result too."""
        try:
            with self.on(device):
                self.model.train(training)
                return measure(step, device, warmup, repeats)
        except torch.OutOfMemoryError:
            return Measurement(status="out of memory")

    def _move(self, device: torch.device) -> None:
        self.model.to(device)  # parameters keep their identity, so the optimiser still holds them
        for state in self.optimizer.state.values():
            for key, value in state.items():
                if isinstance(value, torch.Tensor):
                    state[key] = value.to(device)


def _trainee(name: str, image_size: tuple[int, int], channels_last: bool) -> _Trainee:
    spec = benchmarked_detector(name)
    torch.manual_seed(0)
    model = build_detector(spec, image_size)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return _Trainee(name, spec, model, torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9))


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: list[torch.Tensor],
    targets: list[dict[str, torch.Tensor]],
    device: torch.device,
    dtype: str,
) -> None:
    """One training step of a detector: forward under :func:`autocast`, backward of the summed losses, update."""
    with autocast(device, dtype):
        losses = model(images, targets)
    sum(losses.values()).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def run_detection_benchmark(
    device: torch.device,
    detectors: Sequence[str],
    image_size: tuple[int, int],
    batch: int,
    dtype: str,
    warmup: int = 2,
    repeats: int = 5,
    rounds: int = 1,
    channels_last: bool = False,
    inference: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Training img/s and peak memory at ``batch``, and inference latency at batch 1, per detector.

    Training is measured in ``rounds`` rounds over all detectors, in reverse order every other
    round, so that clock or temperature drift during the run falls on every detector alike and
    ratios between detectors are taken at the same time; a detector's time is the median of its
    round medians. Between its turns a detector waits in host memory, so on a GPU each peak is its own.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}.")
    repeated = sorted({name for name in detectors if list(detectors).count(name) > 1})
    if repeated:
        raise ValueError(f"Detector(s) {repeated} listed more than once; name each detector once.")
    images, targets = synthetic_batch(batch, image_size, device)
    trainees = [_trainee(name, image_size, channels_last) for name in detectors]
    rounds_measured: dict[str, list[Measurement]] = {trainee.name: [] for trainee in trainees}
    for index in range(rounds):
        for trainee in trainees if index % 2 == 0 else trainees[::-1]:

            def step(trainee: _Trainee = trainee) -> None:
                train_step(trainee.model, trainee.optimizer, images, targets, device, dtype)

            result = trainee.measure_on(device, True, step, warmup, repeats)
            rounds_measured[trainee.name].append(result)
            if on_record is not None:  # progress: a killed run still shows the rounds it finished
                on_record(
                    {"part": "detection", "detector": trainee.name, "phase": f"train, round {index + 1}/{rounds}"}
                    | result.as_dict()
                )

    records = []
    common = {"input_size": f"{image_size[0]}x{image_size[1]}", "dtype": dtype, "channels_last": channels_last}

    def emit(trainee: _Trainee, phase: str, phase_batch: int, result: Measurement, **extra: Any) -> None:
        record = {
            "part": "detection",
            "detector": trainee.name,
            "label": trainee.spec.label,
            "backbone_kwargs": trainee.spec.kwargs_record(),
            "phase": phase,
            "batch": phase_batch,
            **common,
            "images_per_s": result.images_per_s(phase_batch),
            **result.as_dict(),
            **extra,
        }
        records.append(record)
        if on_record is not None:
            on_record(record)

    for trainee in trainees:
        measured = rounds_measured[trainee.name]
        round_medians = [m.as_dict()["median_ms"] for m in measured]
        emit(trainee, "train", batch, combine(measured), rounds=rounds, round_medians_ms=round_medians)
    if inference:
        for trainee in trainees:

            def infer_step(trainee: _Trainee = trainee) -> None:
                with torch.inference_mode(), autocast(device, dtype):
                    trainee.model(images[:1])

            emit(trainee, "inference", 1, trainee.measure_on(device, False, infer_step, warmup, repeats))
    return records
