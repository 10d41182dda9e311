"""ResNet with a weighted non-local block at the end of each stage (timm models ``wnlb_resnet*``).

The stock timm :class:`~timm.models.resnet.ResNet` is built unchanged and one
:class:`~wnlb_zoo.layers.WeightedNonLocalBlock` is appended to ``layer1`` .. ``layer4`` (by
default), so base ImageNet checkpoints load with every stock key in place. Each variant also has
its named presets (``wnlb_resnet50_keys32``, see :mod:`.presets`).
"""

from __future__ import annotations

from typing import Any

from timm.models import generate_default_cfgs, register_model
from timm.models.resnet import BasicBlock, Bottleneck, ResNet
from torch import nn

from ._builder import build_wnlb_model, weight_cfgs
from ._stages import WnlbStagesMixin
from .presets import preset_names, register_presets

__all__ = ["WnlbResNet"]


class WnlbResNet(WnlbStagesMixin, ResNet):
    """timm ResNet whose stages end in weighted non-local blocks.

    Takes the base class's arguments plus the ``wnlb_*`` ones of
    :class:`~wnlb_zoo.models._stages.WnlbStagesMixin`.
    """

    def wnlb_stage_sequentials(self) -> tuple[list[nn.Sequential], list[int]]:
        stages = [self.layer1, self.layer2, self.layer3, self.layer4]
        return stages, [info["num_chs"] for info in self.feature_info[1:]]


def _create_wnlb_resnet(variant: str, pretrained: bool = False, **kwargs: Any) -> WnlbResNet:
    return build_wnlb_model(WnlbResNet, variant, pretrained, **kwargs)


_RESNET_BASE_TAGS = {
    "resnet18": ("a1_in1k", "tv_in1k"),
    "resnet34": ("a1_in1k", "tv_in1k"),
    "resnet50": ("a1_in1k", "tv_in1k"),
    "resnet101": ("a1h_in1k", "tv_in1k"),
}
_RESNET_ARGS = {
    "wnlb_resnet18": dict(block=BasicBlock, layers=(2, 2, 2, 2)),
    "wnlb_resnet34": dict(block=BasicBlock, layers=(3, 4, 6, 3)),
    "wnlb_resnet50": dict(block=Bottleneck, layers=(3, 4, 6, 3)),
    "wnlb_resnet101": dict(block=Bottleneck, layers=(3, 4, 23, 3)),
}

default_cfgs = generate_default_cfgs(
    {
        name: cfg
        for base, tags in _RESNET_BASE_TAGS.items()
        for variant in (f"wnlb_{base}", *preset_names(f"wnlb_{base}"))
        for name, cfg in weight_cfgs(variant, base, tags).items()
    }
)


@register_model
def wnlb_resnet18(pretrained: bool = False, **kwargs: Any) -> WnlbResNet:
    """ResNet-18 with a wNLB after each of its four stages."""
    return _create_wnlb_resnet("wnlb_resnet18", pretrained, **dict(_RESNET_ARGS["wnlb_resnet18"], **kwargs))


@register_model
def wnlb_resnet34(pretrained: bool = False, **kwargs: Any) -> WnlbResNet:
    """ResNet-34 with a wNLB after each of its four stages."""
    return _create_wnlb_resnet("wnlb_resnet34", pretrained, **dict(_RESNET_ARGS["wnlb_resnet34"], **kwargs))


@register_model
def wnlb_resnet50(pretrained: bool = False, **kwargs: Any) -> WnlbResNet:
    """ResNet-50 with a wNLB after each of its four stages."""
    return _create_wnlb_resnet("wnlb_resnet50", pretrained, **dict(_RESNET_ARGS["wnlb_resnet50"], **kwargs))


@register_model
def wnlb_resnet101(pretrained: bool = False, **kwargs: Any) -> WnlbResNet:
    """ResNet-101 with a wNLB after each of its four stages."""
    return _create_wnlb_resnet("wnlb_resnet101", pretrained, **dict(_RESNET_ARGS["wnlb_resnet101"], **kwargs))


# wnlb_resnet18_keys16, wnlb_resnet18_keys32, ..., wnlb_resnet101_keys32 (see .presets).
register_presets(__name__, _create_wnlb_resnet, _RESNET_ARGS)
