"""The numbers of the committed variants page, recomputed for wnlb_resnet18 without the catalogue.

Params: ``sum(p.numel())`` of a real CPU model. GMACs at 400x600: a second count that shares nothing
with FlopCounterMode but the model (conv layers from their output shapes through forward hooks, the
wNLBs from their formula), on the meta device.
"""

from pathlib import Path

import timm
import torch
from torch import nn

import wnlb_zoo  # noqa: F401  (registers the models)
from wnlb_zoo.layers import WeightedNonLocalBlock
from wnlb_zoo.models.complexity import count_macs

PAGE = Path(__file__).resolve().parents[2] / "docs" / "variants.md"


def wnlb_macs(block: WeightedNonLocalBlock, positions: int) -> int:
    """theta, phi, g and W_z (N C C' each) and the attention products Q K^T and A V (N^2 C' each)."""
    assert block.mode == "embedded" and block.kv_stride == 1
    return 4 * positions * block.channels * block.inter_channels + 2 * positions**2 * block.inter_channels


def hook_count(model: nn.Module, height: int, width: int) -> tuple[int, int]:
    """MACs of the whole forward pass and of its wNLBs."""
    convs = blocks = 0

    def conv_hook(conv: nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        nonlocal convs
        convs += output.numel() * (conv.in_channels // conv.groups) * conv.kernel_size[0] * conv.kernel_size[1]

    def block_hook(block: WeightedNonLocalBlock, inputs) -> None:
        nonlocal blocks
        blocks += wnlb_macs(block, inputs[0].shape[-2] * inputs[0].shape[-1])

    # The blocks' 1x1 convs run as F.linear on their weights: the conv hooks do not see them.
    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_pre_hook(block_hook) for m in model.modules() if isinstance(m, WeightedNonLocalBlock)]
    with torch.no_grad():
        model(torch.empty(1, 3, height, width, device="meta"))
    for hook in hooks:
        hook.remove()
    return convs + blocks, blocks


def page_cells(weight: str) -> dict[str, str]:
    """The cells of ``weight``'s row in the page's table of all weights, by column header."""
    lines = PAGE.read_text().split("## All weights\n")[1].strip().splitlines()

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    for line in lines[2:]:
        if line.startswith(f"| [`{weight}`]"):
            return dict(zip(cells(lines[0]), cells(line), strict=True))
    raise AssertionError(f"{weight} has no row on {PAGE}")


def test_hook_count_agrees_with_the_counter_exactly():
    with torch.device("meta"):
        model = timm.create_model("wnlb_resnet18", features_only=True).eval()
    assert count_macs(model, 400, 600)[""] == hook_count(model, 400, 600)[0]


def test_page_shows_the_recomputed_resnet18_numbers():
    model = timm.create_model("wnlb_resnet18", features_only=True)
    params = sum(p.numel() for p in model.parameters())
    blocks = [m for m in model.modules() if isinstance(m, WeightedNonLocalBlock)]
    wnlb_params = sum(p.numel() for block in blocks for p in block.parameters())
    with torch.device("meta"):
        meta_model = timm.create_model("wnlb_resnet18", features_only=True).eval()
    macs, in_wnlb = hook_count(meta_model, 400, 600)

    cells = page_cells("wnlb_resnet18.a1_in1k")
    assert cells["Params M (in wNLB)"] == f"{params / 1e6:.1f} ({wnlb_params / 1e6:.1f})"
    assert cells["GMACs 400x600 (in wNLB)"] == f"{macs / 1e9:.1f} ({in_wnlb / 1e9:.1f})"
    # The params are the backbone's: the classifier-form model has only its fc layer more.
    classifier = timm.create_model("wnlb_resnet18")
    head = sum(p.numel() for p in classifier.fc.parameters())
    assert sum(p.numel() for p in classifier.parameters()) == params + head
