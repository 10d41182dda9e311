"""What the zoo holds: the facts a user needs to pick a wNLB variant and load it.

For every registered ``wnlb_*`` model this module gathers its architecture (base network, wNLB
blocks, feature pyramid), its cost (parameters, and MACs at the two usual detection input sizes
with the attention products counted, see :mod:`.complexity`) and its pretrained weights (tags,
training data, low-light AP, sha256, licence). Published weights come from the weights manifest;
the base ImageNet tags from timm's pretrained cfgs. The docs' variants page
(``scripts/generate_docs.py``) and ``wnlb-zoo list`` / ``wnlb-zoo info`` all render these facts,
through the same table cells, so the three cannot drift apart.
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

#: Strides of the stage outputs (stage k: 2 ** (k + 1)), the maps a detection pyramid takes.

_IMAGENET = {"in1k": "ImageNet-1k", "in12k": "ImageNet-12k", "in21k": "ImageNet-21k", "in22k": "ImageNet-22k"}


def size_label(size: tuple[int, int]) -> str:
    """``(400, 600)`` -> ``'400x600'`` (height x width)."""
    return f"{size[0]}x{size[1]}"


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

    def cells(self) -> dict[str, str]:
        """The block's row of a variant's block table: place, widths, and positions and GMACs per input size."""
        cells = {
            "Stage": str(self.stage),
            "Stride": str(self.stride),
            "C": str(self.channels),
            "C'": str(self.inter_channels),
            "Mode": self.mode + (f" kv/{self.kv_stride}" if self.kv_stride > 1 else ""),
        }
        for size, positions, macs in zip(COUNT_SIZES, self.positions, self.macs, strict=True):
            cells[f"Positions {size_label(size)}"] = f"{positions:,}"
            cells[f"GMACs {size_label(size)}"] = f"{macs / 1e9:.2f}"
        return cells


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

    @property
    def label(self) -> str:
        """``name``, marked ``(default)`` for the tag ``pretrained=True`` loads without a tag."""
        return self.name + (" (default)" if self.default else "")

    def cells(self) -> dict[str, str]:
        """The weight's columns of the variants table."""
        return {
            "Training data": " -> ".join(self.training_data),
            "Box / mask AP": ap_cell(self.evaluations[0]) if self.evaluations else "-",
            "sha256": self.sha256[:8] if self.sha256 else "-",
            "Licence": self.license or "not stated",
        }

    def to_json(self) -> dict[str, Any]:
        """The weight as a JSON object (``wnlb-zoo list --pretrained --json``)."""
        return {
            "name": self.name,
            "architecture": self.architecture,
            "tag": self.tag,
            "default": self.default,
            "published": self.published,
            "training_data": list(self.training_data),
            "source": self.source,
            "base_weights": self.base_weights,
            "evaluations": [vars(evaluation) for evaluation in self.evaluations],
            "sha256": self.sha256,
            "license": self.license,
            "recipe": self.recipe,
            "notes": self.notes,
        }


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

    def wnlb_summary(self) -> str:
        """``'stages 1-4, embedded'``: which stages end in a block, and the block's settings."""
        if not self.blocks:
            return "none"
        stages = _ranges([block.stage for block in self.blocks])
        strides = [block.kv_stride for block in self.blocks]
        if len(set(strides)) > 1:  # per-stage strides (the keys16 / keys32 presets): one list, stage by stage
            modes = sorted({block.mode for block in self.blocks})
            return f"stages {stages}, {', '.join(modes)} kv/{'/'.join(map(str, strides))}"
        settings = sorted({(block.mode, block.kv_stride) for block in self.blocks})
        modes = ", ".join(mode + (f" kv/{stride}" if stride > 1 else "") for mode, stride in settings)
        return f"stages {stages}, {modes}"

    def cells(self) -> dict[str, str]:
        """The variant's (architecture and cost) columns of the variants table."""
        cells = {
            "Base": self.base_architecture,
            "wNLB": self.wnlb_summary(),
            "Params M (in wNLB)": f"{self.params / 1e6:.1f} ({self.wnlb_params / 1e6:.1f})",
        }
        for size, macs, wnlb in zip(COUNT_SIZES, self.macs, self.wnlb_macs, strict=True):
            cells[f"GMACs {size_label(size)} (in wNLB)"] = f"{macs / 1e9:.1f} ({wnlb / 1e9:.1f})"
        cells["Features C@stride"] = ", ".join(f"{level.channels}@{level.stride}" for level in self.features)
        return cells

    def to_json(self) -> dict[str, Any]:
        """The variant as a JSON object (``wnlb-zoo list --json``); MACs per input size ``HxW``."""
        labels = [size_label(size) for size in COUNT_SIZES]
        return {
            "name": self.name,
            "description": self.description,
            "base_architecture": self.base_architecture,
            "params": self.params,
            "wnlb_params": self.wnlb_params,
            "macs": dict(zip(labels, self.macs, strict=True)),
            "wnlb_macs": dict(zip(labels, self.wnlb_macs, strict=True)),
            "mac_counter": MAC_COUNTER,
            "features": [vars(level) for level in self.features],
            "out_indices": list(self.out_indices),
            "wnlb_blocks": [
                {
                    **vars(block),
                    "positions": dict(zip(labels, block.positions, strict=True)),
                    "macs": dict(zip(labels, block.macs, strict=True)),
                }
                for block in self.blocks
            ],
            "weights": [weight.to_json() for weight in self.weights],
        }


def ap_cell(evaluation: Evaluation) -> str:
    """``'38.2 / 33.1 (LIS test)'``: box and mask AP of one evaluation, with its data."""
    mask = f"{evaluation.mask_ap:.1f}" if evaluation.mask_ap is not None else "-"
    return f"{evaluation.box_ap:.1f} / {mask} ({evaluation.dataset} {evaluation.split})"


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


def loading_code(name: str, out_indices: tuple[int, ...]) -> str:
    """Python that loads ``name`` (``architecture`` or ``architecture.tag``) as a backbone and in a Mask R-CNN."""
    backbone = _call(
        "backbone = timm.create_model", f'"{name}", pretrained=True, features_only=True, out_indices={out_indices}'
    )
    return (
        "import timm\n"
        "import wnlb_zoo  # registers the wnlb_* models with timm\n"
        "from wnlb_zoo.detection import maskrcnn\n"
        "\n"
        "# feature maps at strides 4, 8, 16, 32; pretrained=True needs the weight file (see the Weights page)\n"
        f"{backbone}\n"
        "# Mask R-CNN + FPN on it, e.g. for LIS: 8 classes + background\n"
        f'detector = maskrcnn("{name}", num_classes=9, backbone_pretrained=True)\n'
    )


#: The line length of the project's formatter (ruff), which the docs' code blocks are held to as well.
_LINE_LENGTH = 120


def _call(prefix: str, arguments: str) -> str:
    """``prefix(arguments)`` on one line, or as the formatter splits it when that line is too long."""
    line = f"{prefix}({arguments})"
    return line if len(line) <= _LINE_LENGTH else f"{prefix}(\n    {arguments}\n)"


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


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 4]`` -> ``'1-4'``, ``[1, 3, 4]`` -> ``'1, 3-4'``."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)
