"""torchvision's detection transform with a choice of image interpolation.

The LIS protocol resizes dark images with nearest-neighbour interpolation: bilinear resizing
averages neighbouring pixels and so removes part of the very noise the backbone must learn to
handle. torchvision hard-codes bilinear; :class:`DetectionTransform` adds ``'nearest'``
(``nearest-exact``: pixel centres, no new pixel values). Only the interpolation changes: the
output size is torchvision's (the scaled sides floored, ``min_size[-1]`` in eval), so an image gets
the same size, and its boxes the same coordinates, with either choice. The dataset transform
:class:`wnlb_zoo.data.Resize` rounds the sides instead, on purpose (see there).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torchvision.models.detection.transform import GeneralizedRCNNTransform, resize_boxes

ResizeInterpolation = Literal["bilinear", "nearest"]


class DetectionTransform(GeneralizedRCNNTransform):
    """:class:`~torchvision.models.detection.transform.GeneralizedRCNNTransform` + ``interpolation``.

    Args:
        *args: As for GeneralizedRCNNTransform (min_size, max_size, image_mean, image_std).
        interpolation: ``'bilinear'`` (torchvision's behaviour) or ``'nearest'`` (LIS protocol).
        **kwargs: As for GeneralizedRCNNTransform.
    """

    def __init__(self, *args, interpolation: ResizeInterpolation = "bilinear", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}.")
        self.interpolation = interpolation

    def resize(
        self, image: torch.Tensor, target: dict[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None]:
        if self.interpolation == "bilinear" or self.fixed_size is not None:
            return super().resize(image, target)
        if self.training and self._skip_resize:
            return image, target
        size = self.torch_choice(self.min_size) if self.training else self.min_size[-1]
        height, width = image.shape[-2:]
        scale = min(size / min(height, width), self.max_size / max(height, width))
        image = F.interpolate(image[None], scale_factor=scale, mode="nearest-exact", recompute_scale_factor=True)[0]
        if target is None:
            return image, target
        target["boxes"] = resize_boxes(target["boxes"], (height, width), image.shape[-2:])
        if "masks" in target:
            masks = target["masks"][:, None].float()
            target["masks"] = F.interpolate(masks, size=image.shape[-2:], mode="nearest-exact")[:, 0].byte()
        return image, target

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        if image.shape[0] != len(self.image_mean):
            raise ValueError(
                f"An input image has {image.shape[0]} channel(s) but the backbone takes {len(self.image_mean)}: "
                "read images as RGB (wnlb_zoo.data.read_image does), or build the detector with "
                f"backbone_kwargs={{'in_chans': {image.shape[0]}}}."
            )
        return super().normalize(image)
