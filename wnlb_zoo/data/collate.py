"""Batching for detection: images differ in size and targets are dicts, so a batch stays a pair of lists."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .target import Target


def collate_detection(batch: Sequence[tuple[torch.Tensor, Target]]) -> tuple[list[torch.Tensor], list[Target]]:
    """``[(image, target), ...]`` -> ``([image, ...], [target, ...])``, the input torchvision detectors take."""
    images = [image for image, _ in batch]
    targets = [target for _, target in batch]
    return images, targets
