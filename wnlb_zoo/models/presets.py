"""Named wNLB configurations, registered as timm models of their own (as timm has ``resnet50d``).

A framework that takes a backbone by name only (Hugging Face ``DetrConfig(backbone=...)``,
``TimmBackboneConfig``, effdet's ``backbone_name``) cannot pass ``wnlb_*`` keyword arguments,
or drops them (transformers builds its timm backbones from the config's name, ``out_indices``,
``output_stride`` and channels alone): a registered name is then the only way to ask for a
configuration. ``wnlb_resnet50_keys32`` is ``wnlb_resnet50`` with ``wnlb_kv_stride=(8, 4, 2, 1)``,
and so on for every family member and preset; keyword arguments given to the preset still win.

The presets are the cheap configurations of the H200 benchmark (docs/benchmarks.md: Mask R-CNN
training at 800x1333, ``wnlb_resnet50_keys32`` at 0.91x and ``keys16`` at 0.88x the img/s of plain
``resnet50``, where the exact blocks run at 0.55x). Each has its own pretrained cfgs (the base
network's ImageNet tags, and any trained weights the manifest publishes under the preset's name).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from timm.models import register_model
from torch import nn


@dataclass(frozen=True)
class WnlbPreset:
    """A configuration ``<variant>_<suffix>``: the variant built with ``kwargs``, described by ``summary``."""

    suffix: str
    kwargs: Mapping[str, Any]
    summary: str


WNLB_PRESETS: tuple[WnlbPreset, ...] = (
    WnlbPreset(
        "keys16",
        {"wnlb_kv_stride": (4, 2, 1, 1)},
        "keys and values max-pooled to the stride-16 grid in stages 1-3, stage 4 exact: wnlb_kv_stride=(4, 2, 1, 1)",
    ),
    WnlbPreset(
        "keys32",
        {"wnlb_kv_stride": (8, 4, 2, 1)},
        "keys and values max-pooled to the stride-32 grid in every stage: wnlb_kv_stride=(8, 4, 2, 1)",
    ),
)


def preset_names(variant: str) -> list[str]:
    """The preset names of ``variant``: ``wnlb_resnet50`` -> ``['wnlb_resnet50_keys16', 'wnlb_resnet50_keys32']``."""
    return [f"{variant}_{preset.suffix}" for preset in WNLB_PRESETS]


def split_preset(name: str) -> tuple[str, WnlbPreset | None]:
    """``'wnlb_resnet50_keys32'`` -> ``('wnlb_resnet50', <keys32 preset>)``; any other name -> ``(name, None)``."""
    for preset in WNLB_PRESETS:
        if name.endswith(f"_{preset.suffix}"):
            return name.removesuffix(f"_{preset.suffix}"), preset
    return name, None


def register_presets(
    module_name: str, create: Callable[..., nn.Module], variant_args: Mapping[str, Mapping[str, Any]]
) -> None:
    """Register every preset of every variant of ``variant_args`` (variant name -> its model args) with timm.

    Each entrypoint builds ``create(<preset name>, pretrained, **model_args, **preset.kwargs, **kwargs)``, so
    timm resolves the preset's own pretrained cfgs, which the module's ``default_cfgs`` must hold. The
    entrypoints are set on the module, as timm's decorated entrypoints are, under their own names.
    """
    module = sys.modules[module_name]
    for variant, model_args in variant_args.items():
        description = (getattr(module, variant).__doc__ or variant).strip().split("\n")[0].rstrip(".")
        for preset in WNLB_PRESETS:
            entrypoint = _preset_entrypoint(f"{variant}_{preset.suffix}", create, {**model_args, **preset.kwargs})
            entrypoint.__doc__ = f"{description}; {preset.summary}."
            entrypoint.__module__ = module_name
            setattr(module, entrypoint.__name__, entrypoint)
            register_model(entrypoint)


def _preset_entrypoint(
    name: str, create: Callable[..., nn.Module], model_args: Mapping[str, Any]
) -> Callable[..., nn.Module]:
    def entrypoint(pretrained: bool = False, **kwargs: Any) -> nn.Module:
        return create(name, pretrained, **{**model_args, **kwargs})

    entrypoint.__name__ = entrypoint.__qualname__ = name
    return entrypoint
