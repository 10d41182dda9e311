"""What the zoo holds: the facts a user needs to pick a wNLB variant and load it.

For every registered ``wnlb_*`` model this module gathers its architecture (base network, wNLB
blocks, feature pyramid), its cost (parameters, and MACs at the two usual detection input sizes
with the attention products counted, see :mod:`.complexity`) and its pretrained weights (tags,
training data, low-light AP, sha256, licence). Published weights come from the weights manifest;
the base ImageNet tags from timm's pretrained cfgs. The docs' variants page
(``scripts/generate_docs.py``) and ``wnlb-zoo list`` / ``wnlb-zoo info`` all show these facts,
through the same table cells (:mod:`wnlb_zoo.cli.catalogue_cells`), so the three cannot drift apart.
Gathering is here; how the facts are shown is there.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any

import timm
import torch

from ..layers import WeightedNonLocalBlock
from ..weights.manifest import Evaluation, find_record
from ._stages import STAGE_STRIDES
from .complexity import count_macs
from .feature_names import flattened_name
from .presets import split_preset

#: Input sizes (height, width) the MACs are counted at: the LIS protocol (its 1200x800 images shown
#: at 600x400) and the COCO / torchvision detection size (shorter side 800, longer side up to 1333).
COUNT_SIZES: tuple[tuple[int, int], ...] = ((400, 600), (800, 1333))

#: The counter the MACs come from, named wherever they are shown.
MAC_COUNTER = "torch.utils.flop_counter.FlopCounterMode (meta device)"

_IMAGENET = {"in1k": "ImageNet-1k", "in12k": "ImageNet-12k", "in21k": "ImageNet-21k", "in22k": "ImageNet-22k"}


@dataclass(frozen=True)
class FeatureLevel:
    """One map of the feature pyramid a detector gets (``features_only`` level ``index``)."""

    index: int
    module: str
    channels: int
    stride: int


@dataclass(frozen=True)
class BlockFacts:
    """One weighted non-local block: where it sits and what it costs at each of COUNT_SIZES."""

    stage: int
    stride: int
    channels: int
    inter_channels: int
    mode: str
    kv_stride: int
    positions: tuple[int, ...]
    macs: tuple[int, ...]


@dataclass(frozen=True)
class WeightFacts:
    """One pretrained weight ``architecture.tag``.

    Attributes:
        published: True for a low-light weight of the manifest; False for a base ImageNet tag.
        source: Where the file comes from (Hugging Face repo id).
        sha256: Recorded hash (published weights only; timm records none for its ImageNet files).
        evaluations: Low-light detection / segmentation AP (published weights only).
    """

    name: str
    architecture: str
    tag: str
    default: bool
    published: bool
    training_data: tuple[str, ...]
    source: str
    base_weights: str | None
    evaluations: tuple[Evaluation, ...]
    sha256: str | None
    license: str | None
    recipe: str
    notes: str


@dataclass(frozen=True)
class VariantFacts:
    """One registered wNLB variant.

    Attributes:
        params: Parameters of the ``features_only`` backbone a detector uses (no classifier head).
        macs: MACs of one image through that backbone at each of COUNT_SIZES.
        wnlb_params, wnlb_macs: The part of ``params`` / ``macs`` inside the wNLB blocks.
    """

    name: str
    description: str
    base_architecture: str
    params: int
    wnlb_params: int
    macs: tuple[int, ...]
    wnlb_macs: tuple[int, ...]
    features: tuple[FeatureLevel, ...]
    blocks: tuple[BlockFacts, ...]
    weights: tuple[WeightFacts, ...]

    @property
    def out_indices(self) -> tuple[int, ...]:
        """``features_only`` indices of the stride 4..32 maps (what a detection pyramid takes)."""
        return tuple(level.index for level in self.features)


def variant_names() -> list[str]:
    """The registered wNLB variants, as ``timm.list_models('wnlb_*')`` lists them."""
    return timm.list_models("wnlb_*")


def weight_names() -> list[str]:
    """Every pretrained weight ``architecture.tag`` of the variants (``timm.list_pretrained('wnlb_*')``)."""
    return timm.list_pretrained("wnlb_*")


def weight_facts(architecture: str) -> tuple[WeightFacts, ...]:
    """The pretrained weights of a variant: the default tag first, then published ones, then the rest."""
    cfgs = timm.models.get_arch_pretrained_cfgs(architecture)
    default = timm.models.get_pretrained_cfg(architecture)
    default_tag = default.tag if default is not None else None
    weights = [_weight(architecture, name.partition(".")[2], cfg.to_dict(), default_tag) for name, cfg in cfgs.items()]
    weights.sort(key=lambda weight: (not weight.default, not weight.published, weight.tag))
    return tuple(weights)


def variant_facts(name: str) -> VariantFacts:
    """Gather every fact of the variant ``name`` (built and counted on the meta device)."""
    if name not in variant_names():
        raise KeyError(f"{name!r} is not a registered wNLB variant.")
    with torch.device("meta"):
        model = timm.create_model(name, features_only=True)
    infos = model.feature_info.get_dicts()
    features = tuple(
        FeatureLevel(index, info["module"], info["num_chs"], info["reduction"])
        for index, info in enumerate(infos)
        if info["reduction"] in STAGE_STRIDES
    )
    blocks = {key: module for key, module in model.named_modules() if isinstance(module, WeightedNonLocalBlock)}
    shapes: dict[str, list[tuple[int, int]]] = {key: [] for key in blocks}
    hooks = [block.register_forward_pre_hook(_shape_recorder(shapes[key])) for key, block in blocks.items()]
    try:
        counts = [count_macs(model, height, width) for height, width in COUNT_SIZES]
    finally:
        for hook in hooks:
            hook.remove()
    block_facts = tuple(
        _block(block, features, block_name, shapes[block_name], [count[block_name] for count in counts])
        for block_name, block in blocks.items()
    )
    return VariantFacts(
        name=name,
        description=(inspect.getdoc(timm.models.model_entrypoint(name)) or "").split("\n")[0],
        base_architecture=_base_architecture(name),
        params=sum(parameter.numel() for parameter in model.parameters()),
        wnlb_params=sum(parameter.numel() for block in blocks.values() for parameter in block.parameters()),
        macs=tuple(count[""] for count in counts),
        wnlb_macs=tuple(sum(count[block_name] for block_name in blocks) for count in counts),
        features=features,
        blocks=block_facts,
        weights=weight_facts(name),
    )


def zoo_facts() -> list[VariantFacts]:
    """The facts of every registered variant, in ``variant_names()`` order."""
    return [variant_facts(name) for name in variant_names()]


def _weight(architecture: str, tag: str, cfg: dict[str, Any], default_tag: str | None) -> WeightFacts:
    name = f"{architecture}.{tag}"
    record = find_record(name)
    if record is not None:
        return WeightFacts(
            name=name, architecture=architecture, tag=tag, default=tag == default_tag, published=True,
            training_data=record.training_data, source=record.repo_id, base_weights=record.base_weights,
            evaluations=record.metrics, sha256=record.sha256, license=record.license, recipe=record.recipe,
            notes=record.notes,
        )  # fmt: skip
    return WeightFacts(
        name=name, architecture=architecture, tag=tag, default=tag == default_tag, published=False,
        training_data=_imagenet_training_data(tag), source=cfg.get("hf_hub_id") or cfg.get("url") or "",
        base_weights=cfg.get("hf_hub_id"), evaluations=(), sha256=None, license=cfg.get("license"), recipe="",
        notes=" ".join(cfg.get("notes") or ()),
    )  # fmt: skip


def _imagenet_training_data(tag: str) -> tuple[str, ...]:
    """Data sets named by a timm ImageNet tag, in training order: ``fb_in22k_ft_in1k`` -> 22k, then 1k."""
    names = tuple(_IMAGENET[token] for token in re.findall(r"in\d+k", tag) if token in _IMAGENET)
    return names or (f"not encoded in the tag {tag!r}; see timm's model card",)


def _base_architecture(name: str) -> str:
    """The timm model a variant adds its blocks to: ``wnlb_resnet50`` (and ``wnlb_resnet50_keys32``) -> ``resnet50``."""
    base = split_preset(name)[0].removeprefix("wnlb_")
    if base not in timm.list_models(base):
        raise KeyError(
            f"{name}: timm has no base architecture {base!r}; name wNLB variants wnlb_<timm model>[_<preset>]."
        )
    return base


def _shape_recorder(seen: list[tuple[int, int]]):
    """A forward pre-hook that appends the (H, W) of the module's input to ``seen``."""

    def record(_module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        seen.append(tuple(args[0].shape[-2:]))

    return record


def _block(
    block: WeightedNonLocalBlock,
    features: tuple[FeatureLevel, ...],
    name: str,
    shapes: list[tuple[int, int]],
    macs: list[int],
) -> BlockFacts:
    number, level = next(
        (number, level)
        for number, level in enumerate(features, start=1)
        if name.startswith((level.module + ".", flattened_name(level.module) + "."))
    )
    return BlockFacts(
        stage=number,
        stride=level.stride,
        channels=block.channels,
        inter_channels=block.inter_channels,
        mode=block.mode,
        kv_stride=block.kv_stride,
        positions=tuple(height * width for height, width in shapes),
        macs=tuple(macs),
    )
