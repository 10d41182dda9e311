"""Feature-map shapes of a ResNet-50 detection backbone for a given input image size."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: ResNet-50 stage output channels and strides (stage k = layer k, stride 2 ** (k + 1)).
RESNET50_STAGES: dict[int, tuple[int, int]] = {1: (256, 4), 2: (512, 8), 3: (1024, 16), 4: (2048, 32)}
#: torchvision's detection transform pads batched images to a multiple of this.
SIZE_DIVISIBLE = 32


@dataclass(frozen=True)
class StageShape:
    """The feature map a wNLB after one stage sees."""

    stage: int
    channels: int
    stride: int
    height: int
    width: int

    @property
    def positions(self) -> int:
        return self.height * self.width


def parse_size(text: str) -> tuple[int, int]:
    """``'800x1333'`` -> ``(800, 1333)`` (height x width)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"Image size {text!r} is not of the form HxW (e.g. 800x1333).")
    return int(match.group(1)), int(match.group(2))


def stage_shape(image_size: tuple[int, int], stage: int) -> StageShape:
    """Shape after ResNet-50 stage ``stage`` (1..4) of an image padded as a detector batches it."""
    if stage not in RESNET50_STAGES:
        raise ValueError(f"Stage {stage} does not exist; stages are {tuple(RESNET50_STAGES)}.")
    channels, stride = RESNET50_STAGES[stage]
    height, width = (math.ceil(side / SIZE_DIVISIBLE) * SIZE_DIVISIBLE for side in image_size)
    return StageShape(stage, channels, stride, height // stride, width // stride)
