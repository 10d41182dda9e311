"""The detection target every dataset of :mod:`wnlb_zoo.data` returns, and how to build one from masks.

The format is torchvision's (``references/detection``, ``MaskRCNN.forward``):

- ``boxes``    float32 (N, 4), ``x1, y1, x2, y2`` in pixel-edge coordinates: a mask covering
  columns 3..5 has ``x1=3, x2=6``. This is COCO's convention (``[x, y, w, h]`` with ``w`` the
  pixel count) and makes flips and resizes exact: ``x -> W - x``, ``x -> x * scale``;
- ``labels``   int64 (N,), 1..K, 0 being the background;
- ``masks``    uint8 (N, H, W), 0/1;
- ``image_id`` int;
- ``area``     float32 (N,);
- ``iscrowd``  int64 (N,).

Empty targets keep the shapes: ``boxes`` (0, 4), ``masks`` (0, H, W).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Target = dict[str, Any]
PairTransform = Callable[[torch.Tensor, Target], tuple[torch.Tensor, Target]]


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Tight pixel-edge boxes (N, 4) of (N, H, W) masks; an empty mask gives a zero box."""
    if masks.shape[0] == 0:
        return torch.zeros((0, 4), dtype=torch.float32)
    if masks.dtype == torch.bool:
        masks = masks.to(torch.uint8)
    rows, cols = masks.amax(dim=2) > 0, masks.amax(dim=1) > 0  # (N, H), (N, W); amax avoids a full-size copy
    height, width = masks.shape[1:]
    y_index = torch.arange(height, device=masks.device)
    x_index = torch.arange(width, device=masks.device)
    y1 = torch.where(rows, y_index, height).amin(dim=1)
    y2 = torch.where(rows, y_index + 1, 0).amax(dim=1)
    x1 = torch.where(cols, x_index, width).amin(dim=1)
    x2 = torch.where(cols, x_index + 1, 0).amax(dim=1)
    boxes = torch.stack([x1, y1, x2, y2], dim=1).to(torch.float32)
    return torch.where(rows.any(dim=1, keepdim=True), boxes, torch.zeros_like(boxes))


def target_from_masks(masks: torch.Tensor, labels: torch.Tensor, image_id: int) -> Target:
    """A non-crowd target whose boxes and areas are those of the (N, H, W) masks."""
    masks = masks.to(torch.uint8)
    return {
        "boxes": masks_to_boxes(masks),
        "labels": labels.to(torch.int64),
        "masks": masks,
        "image_id": image_id,
        "area": masks.flatten(1).sum(dim=1, dtype=torch.float32),
        "iscrowd": torch.zeros((masks.shape[0],), dtype=torch.int64),
    }


def empty_target(image_id: int, height: int, width: int) -> Target:
    """The target of an image without objects."""
    return target_from_masks(
        torch.zeros((0, height, width), dtype=torch.uint8), torch.zeros((0,), dtype=torch.int64), image_id
    )
