"""ConvNeXt with a weighted non-local block at the end of each stage (timm models ``wnlb_convnext_*``).

The stock timm :class:`~timm.models.convnext.ConvNeXt` is built unchanged and one
:class:`~wnlb_zoo.layers.WeightedNonLocalBlock` is appended to ``stages[i].blocks`` (by default
i = 0..3), so base ImageNet checkpoints load with every stock key in place. Each variant also has
its named presets (``wnlb_convnext_tiny_keys32``, see :mod:`.presets`).
"""

from __future__ import annotations

from typing import Any

from timm.models import generate_default_cfgs, register_model
from timm.models.convnext import ConvNeXt
from timm.models.convnext import checkpoint_filter_fn as convnext_checkpoint_filter_fn
from torch import nn

from ._builder import build_wnlb_model, weight_cfgs
from ._stages import WnlbStagesMixin
from .presets import preset_names, register_presets

__all__ = ["WnlbConvNeXt"]


class WnlbConvNeXt(WnlbStagesMixin, ConvNeXt):
    """timm ConvNeXt whose stages end in weighted non-local blocks.

    Takes the base class's arguments plus the ``wnlb_*`` ones of
    :class:`~wnlb_zoo.models._stages.WnlbStagesMixin`.
    """

    def wnlb_stage_sequentials(self) -> tuple[list[nn.Sequential], list[int]]:
        return [stage.blocks for stage in self.stages], [info["num_chs"] for info in self.feature_info]


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
_CONVNEXT_ARGS = {
    "wnlb_convnext_tiny": dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)),
    "wnlb_convnext_small": dict(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768)),
    "wnlb_convnext_base": dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024)),
}

default_cfgs = generate_default_cfgs(
    {
        name: cfg
        for base, tags in _CONVNEXT_BASE_TAGS.items()
        for variant in (f"wnlb_{base}", *preset_names(f"wnlb_{base}"))
        for name, cfg in weight_cfgs(variant, base, tags).items()
    }
)


@register_model
def wnlb_convnext_tiny(pretrained: bool = False, **kwargs: Any) -> WnlbConvNeXt:
    """ConvNeXt-T with a wNLB after each of its four stages."""
    return _create_wnlb_convnext(
        "wnlb_convnext_tiny", pretrained, **dict(_CONVNEXT_ARGS["wnlb_convnext_tiny"], **kwargs)
    )


@register_model
def wnlb_convnext_small(pretrained: bool = False, **kwargs: Any) -> WnlbConvNeXt:
    """ConvNeXt-S with a wNLB after each of its four stages."""
    return _create_wnlb_convnext(
        "wnlb_convnext_small", pretrained, **dict(_CONVNEXT_ARGS["wnlb_convnext_small"], **kwargs)
    )


@register_model
def wnlb_convnext_base(pretrained: bool = False, **kwargs: Any) -> WnlbConvNeXt:
    """ConvNeXt-B with a wNLB after each of its four stages."""
    return _create_wnlb_convnext(
        "wnlb_convnext_base", pretrained, **dict(_CONVNEXT_ARGS["wnlb_convnext_base"], **kwargs)
    )


# wnlb_convnext_tiny_keys16, ..., wnlb_convnext_base_keys32 (see .presets).
register_presets(__name__, _create_wnlb_convnext, _CONVNEXT_ARGS)
