"""Freezing a pretrained backbone the way torchvision's detection builders do, wNLB-aware.

torchvision freezes the first stages of a pretrained ResNet and replaces its BatchNorm with
FrozenBatchNorm2d (detection batches are too small for batch statistics). Both must spare the
weighted non-local blocks: their parameters are new (a frozen wNLB stays the identity), and
their BatchNorm must learn. ``timm.layers.freeze_batch_norm_2d`` would freeze those too.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

from ..layers import WeightedNonLocalBlock


def freeze_stages(body: nn.Module, stage_modules: Sequence[str], trainable_layers: int) -> None:
    """Stop gradients in all but the last ``trainable_layers`` of (stem, stage 1, ..., stage 4).

    Args:
        body: A timm ``features_only`` model whose top-level children run in order.
        stage_modules: Feature-info module names of the four stages, shallowest first.
        trainable_layers: 0..5; 5 trains everything, 3 (torchvision's default) freezes the stem and stage 1.
    """
    children = list(body.named_children())
    names = [name for name, _ in children]
    stage_children = [name if name in names else name.replace(".", "_") for name in stage_modules]
    groups: list[list[nn.Module]] = [[] for _ in range(len(stage_children) + 1)]
    group = 0  # 0 = stem: everything before stage 1's module
    for name, child in children:
        if group < len(stage_children) and name == stage_children[group]:
            group += 1
        groups[group].append(child)
    frozen = groups[: len(groups) - trainable_layers]
    for modules in frozen:
        for module in modules:
            for parameter in _base_parameters(module):
                parameter.requires_grad_(False)


def freeze_base_batch_norm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d outside the wNLB blocks by FrozenBatchNorm2d, in place; return ``module``."""
    for name, child in module.named_children():
        if isinstance(child, WeightedNonLocalBlock):
            continue
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, _frozen_copy(child))
        else:
            freeze_base_batch_norm(child)
    return module


def _frozen_copy(norm: nn.BatchNorm2d) -> FrozenBatchNorm2d:
    frozen = FrozenBatchNorm2d(norm.num_features, eps=norm.eps).to(norm.weight.device)
    frozen.weight.copy_(norm.weight.detach())
    frozen.bias.copy_(norm.bias.detach())
    frozen.running_mean.copy_(norm.running_mean)
    frozen.running_var.copy_(norm.running_var)
    return frozen


def _base_parameters(module: nn.Module):
    """Parameters of ``module`` that do not belong to a wNLB block."""
    wnlb = {id(p) for m in module.modules() if isinstance(m, WeightedNonLocalBlock) for p in m.parameters()}
    return [p for p in module.parameters() if id(p) not in wnlb]
