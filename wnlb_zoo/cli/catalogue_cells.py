"""How the catalogue's facts are shown: table cells, JSON and loading code.

:mod:`wnlb_zoo.models.catalogue` gathers the facts of every variant; ``wnlb-zoo list``,
``wnlb-zoo info`` and the docs' variants page (``scripts/generate_docs.py``) all show them through
the cells here, so a terminal and the page cannot say different things.
"""

from __future__ import annotations

from typing import Any

from ..models.catalogue import COUNT_SIZES, MAC_COUNTER, BlockFacts, VariantFacts, WeightFacts
from ..weights.manifest import Evaluation

#: The line length of the project's formatter (ruff), which the docs' code blocks are held to as well.
LINE_LENGTH = 120


def size_label(size: tuple[int, int]) -> str:
    """``(400, 600)`` -> ``'400x600'`` (height x width)."""
    return f"{size[0]}x{size[1]}"


def block_cells(block: BlockFacts) -> dict[str, str]:
    """A block's row of a variant's block table: place, widths, and positions and GMACs per input size."""
    cells = {
        "Stage": str(block.stage),
        "Stride": str(block.stride),
        "C": str(block.channels),
        "C'": str(block.inter_channels),
        "Mode": block.mode + (f" kv/{block.kv_stride}" if block.kv_stride > 1 else ""),
    }
    for size, positions, macs in zip(COUNT_SIZES, block.positions, block.macs, strict=True):
        cells[f"Positions {size_label(size)}"] = f"{positions:,}"
        cells[f"GMACs {size_label(size)}"] = f"{macs / 1e9:.2f}"
    return cells


def weight_label(weight: WeightFacts) -> str:
    """The weight's name, marked ``(default)`` for the tag ``pretrained=True`` loads without a tag."""
    return weight.name + (" (default)" if weight.default else "")


def weight_cells(weight: WeightFacts) -> dict[str, str]:
    """A weight's columns of the variants table."""
    return {
        "Training data": " -> ".join(weight.training_data),
        "Box / mask AP": ap_cell(weight.evaluations[0]) if weight.evaluations else "-",
        "sha256": weight.sha256[:8] if weight.sha256 else "-",
        "Licence": weight.license or "not stated",
    }


def ap_cell(evaluation: Evaluation) -> str:
    """``'38.2 / 33.1 (LIS test)'``: box and mask AP of one evaluation, with its data."""
    mask = f"{evaluation.mask_ap:.1f}" if evaluation.mask_ap is not None else "-"
    return f"{evaluation.box_ap:.1f} / {mask} ({evaluation.dataset} {evaluation.split})"


def wnlb_summary(variant: VariantFacts) -> str:
    """``'stages 1-4, embedded'``: which stages end in a block, and the block's settings."""
    if not variant.blocks:
        return "none"
    stages = _ranges([block.stage for block in variant.blocks])
    strides = [block.kv_stride for block in variant.blocks]
    if len(set(strides)) > 1:  # per-stage strides (the keys16 / keys32 presets): one list, stage by stage
        modes = sorted({block.mode for block in variant.blocks})
        return f"stages {stages}, {', '.join(modes)} kv/{'/'.join(map(str, strides))}"
    settings = sorted({(block.mode, block.kv_stride) for block in variant.blocks})
    modes = ", ".join(mode + (f" kv/{stride}" if stride > 1 else "") for mode, stride in settings)
    return f"stages {stages}, {modes}"


def variant_cells(variant: VariantFacts) -> dict[str, str]:
    """A variant's (architecture and cost) columns of the variants table."""
    cells = {
        "Base": variant.base_architecture,
        "wNLB": wnlb_summary(variant),
        "Params M (in wNLB)": f"{variant.params / 1e6:.1f} ({variant.wnlb_params / 1e6:.1f})",
    }
    for size, macs, wnlb in zip(COUNT_SIZES, variant.macs, variant.wnlb_macs, strict=True):
        cells[f"GMACs {size_label(size)} (in wNLB)"] = f"{macs / 1e9:.1f} ({wnlb / 1e9:.1f})"
    cells["Features C@stride"] = ", ".join(f"{level.channels}@{level.stride}" for level in variant.features)
    return cells


def weight_json(weight: WeightFacts) -> dict[str, Any]:
    """A weight as a JSON object (``wnlb-zoo list --pretrained --json``)."""
    return {
        "name": weight.name,
        "architecture": weight.architecture,
        "tag": weight.tag,
        "default": weight.default,
        "published": weight.published,
        "training_data": list(weight.training_data),
        "source": weight.source,
        "base_weights": weight.base_weights,
        "evaluations": [vars(evaluation) for evaluation in weight.evaluations],
        "sha256": weight.sha256,
        "license": weight.license,
        "recipe": weight.recipe,
        "notes": weight.notes,
    }


def variant_json(variant: VariantFacts) -> dict[str, Any]:
    """A variant as a JSON object (``wnlb-zoo list --json``); MACs per input size ``HxW``."""
    labels = [size_label(size) for size in COUNT_SIZES]
    return {
        "name": variant.name,
        "description": variant.description,
        "base_architecture": variant.base_architecture,
        "params": variant.params,
        "wnlb_params": variant.wnlb_params,
        "macs": dict(zip(labels, variant.macs, strict=True)),
        "wnlb_macs": dict(zip(labels, variant.wnlb_macs, strict=True)),
        "mac_counter": MAC_COUNTER,
        "features": [vars(level) for level in variant.features],
        "out_indices": list(variant.out_indices),
        "wnlb_blocks": [
            {
                **vars(block),
                "positions": dict(zip(labels, block.positions, strict=True)),
                "macs": dict(zip(labels, block.macs, strict=True)),
            }
            for block in variant.blocks
        ],
        "weights": [weight_json(weight) for weight in variant.weights],
    }


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


def _call(prefix: str, arguments: str) -> str:
    """``prefix(arguments)`` on one line, or as the formatter splits it when that line is too long."""
    line = f"{prefix}({arguments})"
    return line if len(line) <= LINE_LENGTH else f"{prefix}(\n    {arguments}\n)"


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 4]`` -> ``'1-4'``, ``[1, 3, 4]`` -> ``'1, 3-4'``."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)
