"""Build wNLB models through timm, with checked weight loading and base-weight tags."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import partial
from typing import Any

import timm
from timm.models import build_model_with_cfg, resolve_pretrained_cfg
from torch import nn

from ..weights.manifest import ManifestWarning, find_record, manifest_cfgs
from ..weights.resolve import resolve_pretrained_file
from ._checkpoint import FilterFn, fill_wnlb_keys
from .model_names import check_pretrained_tag


def build_wnlb_model(
    model_cls: type[nn.Module],
    variant: str,
    pretrained: bool,
    base_filter_fn: FilterFn | None = None,
    **kwargs: Any,
) -> nn.Module:
    """timm's ``build_model_with_cfg`` with wNLB-aware, strict loading of pretrained weights.

    When ``pretrained`` is set and no explicit file is given, the weight file is located first
    (local mirror, HF cache, hub; see :mod:`wnlb_zoo.weights.resolve`) so that a missing file fails
    fast with a clear message rather than after network time-outs. A published (manifest) tag has
    its file's sha256 checked first, and its recorded model kwargs become defaults, so that the
    model is built the way the weights were trained. An unknown tag raises
    :class:`UnknownPretrainedTagError`, pretrained or not.
    """
    tag = kwargs.get("pretrained_cfg")
    if isinstance(tag, str):  # timm.create_model("arch.tag") passes the tag on as pretrained_cfg
        check_pretrained_tag(variant, tag)
    if pretrained:
        cfg = resolve_pretrained_cfg(
            variant,
            pretrained_cfg=kwargs.get("pretrained_cfg"),
            pretrained_cfg_overlay=kwargs.get("pretrained_cfg_overlay"),
        ).to_dict()
        record = None if cfg.get("source") else find_record(f"{cfg.get('architecture')}.{cfg.get('tag')}")
        for key, value in (record.model_kwargs if record else {}).items():
            kwargs.setdefault(key, value)
        weight_file = resolve_pretrained_file(cfg, cache_dir=kwargs.get("cache_dir"))
        if weight_file is not None:
            kwargs["pretrained_cfg_overlay"] = {
                **(kwargs.get("pretrained_cfg_overlay") or {}),
                "file": str(weight_file),
            }
    return build_model_with_cfg(
        model_cls,
        variant,
        pretrained,
        pretrained_filter_fn=partial(fill_wnlb_keys, base_filter_fn=base_filter_fn),
        **kwargs,
    )


def base_weight_cfgs(variant: str, base_arch: str, base_tags: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Pretrained cfgs ``variant.<tag>`` that start from timm's ``base_arch.<tag>`` ImageNet weights.

    The base checkpoint has no wNLB weights; they keep their initial values (gate 0, so the model
    computes exactly what the base network computes until it is fine-tuned).
    """
    cfgs = {}
    for tag in base_tags:
        base = timm.models.get_pretrained_cfg(f"{base_arch}.{tag}")
        if base is None:
            raise KeyError(f"timm has no pretrained cfg {base_arch}.{tag}; update the base tags of {variant}.")
        cfg = base.to_dict()
        for key in ("architecture", "tag"):
            cfg.pop(key, None)
        cfg["notes"] = (f"Base ImageNet weights {base_arch}.{tag}; wNLB blocks at their initial values.",)
        cfgs[f"{variant}.{tag}"] = cfg
    return cfgs


def weight_cfgs(variant: str, base_arch: str, base_tags: Sequence[str]) -> dict[str, dict[str, Any]]:
    """All pretrained cfgs of ``variant``: its manifest (trained) tags first, then the base ImageNet tags.

    Trained tags come first so that, once a low-light weight is published, it becomes the default
    of ``timm.create_model(variant, pretrained=True)``; the base tags stay available by name.
    """
    trained = manifest_cfgs(variant)
    base = base_weight_cfgs(variant, base_arch, base_tags)
    for name in sorted(trained.keys() & base.keys()):  # runs at import: warn, keep the base tag
        warnings.warn(
            f"Manifest record {name}.json reuses the name of a base ImageNet tag of {variant}: it is ignored. "
            "Rename the record and its tag (e.g. add the training data set to it).",
            ManifestWarning,
            stacklevel=2,
        )
        del trained[name]
    return {**trained, **base}
