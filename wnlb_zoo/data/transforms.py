"""Paired transforms on ``(image, target)`` that keep masks, boxes and areas consistent with the image.

Images are float (3, H, W) tensors in [0, 1]; targets follow :mod:`wnlb_zoo.data.target` (boxes in
pixel-edge coordinates, so a flip maps ``x`` to ``W - x`` and a resize scales exactly).

Random transforms draw from the ``generator`` given (a CPU ``torch.Generator``, for reproducible
runs and tests) or, by default, from torch's global generator, which DataLoader workers seed
differently from one another.

These are not :mod:`torchvision.transforms.v2`, whose kernels they match where the behaviour is the
same (masks are resized in uint8 with pixel-centre nearest neighbour, as its ``resize_mask`` with
``NEAREST_EXACT``), because its behaviour differs where it matters here: its random transforms
draw only from torch's global generator (no ``generator``), its ``Resize`` floors the long side
where :class:`Resize` rounds, its bilinear path antialiases and resizes masks with the legacy
``NEAREST`` (half a pixel off the image's grid), its ``ColorJitter`` applies the factors in a
random order, and it does not scale a target's ``area``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .lowlight import DEFAULT_LOW_LIGHT, LowLightParams, synthesize_low_light
from .target import PairTransform, Target

_INTERPOLATIONS = ("bilinear", "nearest")
# Rec. 601 luma weights, as torchvision's rgb_to_grayscale.
_LUMA = (0.299, 0.587, 0.114)


def _uniform(generator: torch.Generator | None, low: float = 0.0, high: float = 1.0) -> float:
    device = generator.device if generator is not None else None
    return low + (high - low) * torch.rand((), generator=generator, device=device).item()


class Compose:
    """Apply paired transforms in order."""

    def __init__(self, transforms: Sequence[PairTransform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: torch.Tensor, target: Target) -> tuple[torch.Tensor, Target]:
        for transform in self.transforms:
            image, target = transform(image, target)
        return image, target

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transforms})"


class RandomHorizontalFlip:
    """Mirror the image, its masks and boxes left-right with probability ``p``."""

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        self.p = p
        self.generator = generator

    def __call__(self, image: torch.Tensor, target: Target) -> tuple[torch.Tensor, Target]:
        if _uniform(self.generator) >= self.p:
            return image, target
        width = image.shape[-1]
        target = dict(target)
        boxes = target["boxes"]
        target["boxes"] = torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], dim=1)
        target["masks"] = target["masks"].flip(-1)
        return image.flip(-1), target

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class Resize:
    """Scale so the short side is ``min_size`` unless the long side would exceed ``max_size`` (as torchvision's
    ``GeneralizedRCNNTransform``).

    ``min_size`` may be a sequence, one of which is drawn per call (multi-scale training).
    ``interpolation='nearest'`` (pixel-centre nearest neighbour) leaves the noise of a dark image
    as it is, as the LIS protocol asks, and creates no new pixel values; ``'bilinear'`` smooths.
    Masks are always resized with pixel-centre nearest neighbour, in their own uint8; boxes and areas are scaled.

    The sides are rounded, so the short side is exactly ``min_size`` or the long side exactly
    ``max_size``. torchvision's transform, and with it the detectors' own
    (:class:`wnlb_zoo.detection.DetectionTransform`), floors instead and can land a pixel short
    (207 x 276 at 800 / 1333: 800 x 1067 here, 800 x 1066 there). The two size computations are kept
    apart on purpose: this dataset transform promises exact sides, the detector's must size images
    as torchvision does with either interpolation (and ``data`` imports nothing from ``detection``).
    An image resized here to the detector's ``min_size`` / ``max_size`` passes the detector's own
    resize unchanged.
    """

    def __init__(
        self,
        min_size: int | Sequence[int],
        max_size: int,
        interpolation: str = "bilinear",
        generator: torch.Generator | None = None,
    ) -> None:
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}")
        self.min_sizes = (min_size,) if isinstance(min_size, int) else tuple(min_size)
        self.max_size = max_size
        self.interpolation = interpolation
        self.generator = generator

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) an image of this size is resized to (the first ``min_size`` when several)."""
        return self._output_size(height, width, self.min_sizes[0])

    def _output_size(self, height: int, width: int, min_size: int) -> tuple[int, int]:
        scale = min(min_size / min(height, width), self.max_size / max(height, width))
        return max(1, round(height * scale)), max(1, round(width * scale))

    def __call__(self, image: torch.Tensor, target: Target) -> tuple[torch.Tensor, Target]:
        if len(self.min_sizes) > 1:
            device = self.generator.device if self.generator is not None else None
            choice = int(torch.randint(len(self.min_sizes), (), generator=self.generator, device=device))
        else:
            choice = 0
        height, width = image.shape[-2:]
        size = self._output_size(height, width, self.min_sizes[choice])
        if size == (height, width):
            return image, target
        if self.interpolation == "bilinear":
            resized = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)
        else:
            resized = F.interpolate(image[None], size=size, mode="nearest-exact")
        target = dict(target)
        masks = target["masks"]
        if masks.shape[0]:
            masks = F.interpolate(masks[None], size=size, mode="nearest-exact")[0]
        else:
            masks = masks.new_zeros((0, *size))
        target["masks"] = masks
        scale_x, scale_y = size[1] / width, size[0] / height
        target["boxes"] = target["boxes"] * torch.tensor([scale_x, scale_y, scale_x, scale_y])
        target["area"] = target["area"] * (scale_x * scale_y)
        return resized[0].clamp(0.0, 1.0), target

    def __repr__(self) -> str:
        return f"{type(self).__name__}(min_size={self.min_sizes}, max_size={self.max_size}, {self.interpolation})"


class RandomPhotometric:
    """With probability ``p``, jitter brightness, contrast and saturation by factors drawn from ``1 +- amount``.

    Only the image changes. Contrast blends towards the image's mean luma, saturation towards
    each pixel's luma; the result is clamped to [0, 1].
    """

    def __init__(
        self,
        brightness: float = 0.2,
        contrast: float = 0.2,
        saturation: float = 0.2,
        p: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        for name, amount in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
            if not 0 <= amount <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {amount}")
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation
        self.p = p
        self.generator = generator

    def __call__(self, image: torch.Tensor, target: Target) -> tuple[torch.Tensor, Target]:
        if _uniform(self.generator) >= self.p:
            return image, target
        brightness = _uniform(self.generator, 1 - self.brightness, 1 + self.brightness)
        contrast = _uniform(self.generator, 1 - self.contrast, 1 + self.contrast)
        saturation = _uniform(self.generator, 1 - self.saturation, 1 + self.saturation)
        luma_weights = torch.tensor(_LUMA, dtype=image.dtype, device=image.device)[:, None, None]
        image = image * brightness
        mean_luma = (image * luma_weights).sum(dim=0).mean()
        image = (image - mean_luma) * contrast + mean_luma
        luma = (image * luma_weights).sum(dim=0, keepdim=True)
        image = (image - luma) * saturation + luma
        return image.clamp(0.0, 1.0), target

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, p={self.p})"
        )


class RandomLowLight:
    """With probability ``p``, darken the image with the low-light synthesis of :mod:`wnlb_zoo.data.lowlight`.

    Masks, boxes and the rest of the target are passed through untouched.
    """

    def __init__(
        self, params: LowLightParams = DEFAULT_LOW_LIGHT, p: float = 1.0, generator: torch.Generator | None = None
    ) -> None:
        self.params = params
        self.p = p
        self.generator = generator

    def __call__(self, image: torch.Tensor, target: Target) -> tuple[torch.Tensor, Target]:
        if self.p < 1.0 and _uniform(self.generator) >= self.p:
            return image, target
        return synthesize_low_light(image, self.params, self.generator), target

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params}, p={self.p})"
