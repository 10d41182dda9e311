"""A timm backbone + torchvision FPN, as the ``backbone`` of torchvision detectors (or any other).

:class:`TimmFeaturePyramid` takes any timm model that supports ``features_only`` (the wNLB
variants and their plain bases alike), keeps its stride-4..32 maps and runs torchvision's
:class:`~torchvision.ops.FeaturePyramidNetwork` with a max-pooled extra level on top. It returns
the ``OrderedDict`` ``{'0', '1', '2', '3', 'pool'}`` that torchvision's anchor generator and
RoI poolers expect, and exposes ``out_channels``; other frameworks can call it directly.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import timm
import torch
from torch import nn
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

from ..models import STAGE_STRIDES, check_model_name
from .freezing import freeze_base_batch_norm, freeze_stages, freezing_defaults

#: Strides of the maps fed to the FPN (torchvision's poolers read levels '0'..'3').
PYRAMID_STRIDES = STAGE_STRIDES


class TimmFeaturePyramid(nn.Module):
    """A ``features_only`` timm model followed by an FPN.

    Args:
        body: A timm ``features_only`` model (``FeatureListNet``) returning the stride 4..32 maps
            (extra, shallower levels such as ResNet's stride-2 stem are skipped).
        out_channels: FPN channels.

    Attributes:
        out_channels: FPN channels, read by torchvision's detection heads.
        pretrained_cfg: The body's timm pretrained cfg (input mean/std among others).
    """

    def __init__(self, body: nn.Module, out_channels: int = 256) -> None:
        super().__init__()
        infos = body.feature_info.get_dicts()
        self.level_indices = [i for i, info in enumerate(infos) if info["reduction"] in PYRAMID_STRIDES]
        strides = [infos[i]["reduction"] for i in self.level_indices]
        if strides != list(PYRAMID_STRIDES):
            raise ValueError(
                f"The backbone gives feature strides {[info['reduction'] for info in infos]}; a detection "
                f"pyramid needs {list(PYRAMID_STRIDES)}. Build it with out_indices covering those stages."
            )
        self.body = body
        self.fpn = FeaturePyramidNetwork(
            [infos[i]["num_chs"] for i in self.level_indices], out_channels, extra_blocks=LastLevelMaxPool()
        )
        self.out_channels = out_channels
        self.pretrained_cfg = dict(getattr(body, "pretrained_cfg", {}))

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        maps = self.body(images)
        return self.fpn(OrderedDict((str(level), maps[i]) for level, i in enumerate(self.level_indices)))


def timm_feature_pyramid(
    backbone: str,
    pretrained: bool = False,
    trainable_layers: int | None = None,
    out_channels: int = 256,
    frozen_batch_norm: bool | None = None,
    **backbone_kwargs: Any,
) -> TimmFeaturePyramid:
    """Build a :class:`TimmFeaturePyramid` on the timm model ``backbone``, torchvision-style.

    Args:
        backbone: Any timm model name (``wnlb_resnet50``, ``resnet50``, ``convnext_tiny``, ...), with
            an optional ``.tag``, or an exported backbone (``local-dir:DIR``, ``hf-hub:ORG/NAME``).
        pretrained: Load the backbone's pretrained (e.g. ImageNet) weights.
        trainable_layers: How many of the 5 groups (stem, stage 1..4) train, counted from the deepest;
            torchvision's ``trainable_backbone_layers``. Default 3 when pretrained, else 5. wNLB
            blocks always train: they are new parameters, frozen they would stay the identity.
        out_channels: FPN channels.
        frozen_batch_norm: Freeze the base network's BatchNorm with :func:`freeze_base_batch_norm` (the
            wNLBs' own BatchNorm is never frozen). Default: when pretrained, as torchvision does.
        **backbone_kwargs: Passed to ``timm.create_model`` (e.g. ``wnlb_stages=(2, 3, 4)``).
    """
    check_model_name(backbone)
    trainable_layers, frozen_batch_norm = freezing_defaults(pretrained, trainable_layers, frozen_batch_norm)
    body = timm.create_model(backbone, pretrained=pretrained, features_only=True, **backbone_kwargs)
    pyramid = TimmFeaturePyramid(body, out_channels)
    stage_modules = [body.feature_info.get_dicts()[i]["module"] for i in pyramid.level_indices]
    freeze_stages(body, stage_modules, trainable_layers)
    if frozen_batch_norm:
        freeze_base_batch_norm(body)
    return pyramid
