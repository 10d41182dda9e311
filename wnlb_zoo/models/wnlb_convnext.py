"""ConvNeXt with a weighted non-local block at the end of each stage (timm models ``wnlb_convnext_*``).

The stock timm :class:`~timm.models.convnext.ConvNeXt` is built unchanged and one
:class:`~wnlb_zoo.layers.WeightedNonLocalBlock` is appended to ``stages[i].blocks`` (by default
i = 0..3), so base ImageNet checkpoints load with every stock key in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from timm.models import generate_default_cfgs, register_model
from timm.models.convnext import ConvNeXt
from timm.models.convnext import checkpoint_filter_fn as convnext_checkpoint_filter_fn

from ..layers import NonLocalInit, NonLocalMode
from ._builder import build_wnlb_model, weight_cfgs
from ._stages import STAGE_NUMBERS, append_wnlb_blocks

__all__ = ["WnlbConvNeXt"]


class WnlbConvNeXt(ConvNeXt):
    """timm ConvNeXt whose stages end in weighted non-local blocks.

    Args:
        *args: Passed to :class:`timm.models.convnext.ConvNeXt` (``depths``, ``dims``, ...).
        wnlb_stages: 1-based stages that end in a wNLB (1 = ``stages.0``, stride 4 ... 4 = ``stages.3``).
        wnlb_mode: ``'embedded'``, ``'gaussian'``, ``'dot'`` or ``'concatenate'``.
        wnlb_inter_ratio: Embedding channels of each block as a fraction of its stage channels.
        wnlb_kv_stride: Max-pool factor for keys/values (1 = exact attention).
        wnlb_init: ``'default'`` (trainable attention path) or ``'reference'`` (authors' init).
        **kwargs: Passed to :class:`timm.models.convnext.ConvNeXt`.
    """

    def __init__(
        self,
        *args: Any,
        wnlb_stages: Sequence[int] = STAGE_NUMBERS,
        wnlb_mode: NonLocalMode = "embedded",
        wnlb_inter_ratio: float = 0.5,
        wnlb_kv_stride: int = 1,
        wnlb_init: NonLocalInit = "default",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, device=device, dtype=dtype, **kwargs)
        append_wnlb_blocks(
            [stage.blocks for stage in self.stages],
            [info["num_chs"] for info in self.feature_info],
            wnlb_stages=wnlb_stages,
            wnlb_mode=wnlb_mode,
            wnlb_inter_ratio=wnlb_inter_ratio,
            wnlb_kv_stride=wnlb_kv_stride,
            wnlb_init=wnlb_init,
            device=device,
            dtype=dtype,
        )


def _create_wnlb_convnext(variant: str, pretrained: bool = False, **kwargs: Any) -> WnlbConvNeXt:
    return build_wnlb_model(
        WnlbConvNeXt,
        variant,
        pretrained,
        base_filter_fn=convnext_checkpoint_filter_fn,
        feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
        **kwargs,
    )


_CONVNEXT_BASE_TAGS = {
    "convnext_tiny": ("in12k_ft_in1k", "fb_in1k"),
    "convnext_small": ("in12k_ft_in1k", "fb_in1k"),
    "convnext_base": ("fb_in22k_ft_in1k", "fb_in1k"),
}

default_cfgs = generate_default_cfgs(
    {
        name: cfg
        for base, tags in _CONVNEXT_BASE_TAGS.items()
        for name, cfg in weight_cfgs(f"wnlb_{base}", base, tags).items()
    }
)


@register_model
def wnlb_convnext_tiny(pretrained: bool = False, **kwargs: Any) -> WnlbConvNeXt:
    """ConvNeXt-T with a wNLB after each of its four stages."""
    model_args = dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768))
    return _create_wnlb_convnext("wnlb_convnext_tiny", pretrained, **dict(model_args, **kwargs))


@register_model
def wnlb_convnext_small(pretrained: bool = False, **kwargs: Any) -> WnlbConvNeXt:
    """ConvNeXt-S with a wNLB after each of its four stages."""
    model_args = dict(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768))
    return _create_wnlb_convnext("wnlb_convnext_small", pretrained, **dict(model_args, **kwargs))


@register_model
def wnlb_convnext_base(pretrained: bool = False, **kwargs: Any) -> WnlbConvNeXt:
    """ConvNeXt-B with a wNLB after each of its four stages."""
    model_args = dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024))
    return _create_wnlb_convnext("wnlb_convnext_base", pretrained, **dict(model_args, **kwargs))
