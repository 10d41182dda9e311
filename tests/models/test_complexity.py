"""MAC counting: FlopCounterMode on the meta device against an analytic count, block and whole backbone."""

import pytest
import torch
from torch import nn

from wnlb_zoo.layers import WeightedNonLocalBlock
from wnlb_zoo.models.complexity import count_macs


def block_macs(channels: int, inter: int, positions: int, mode: str) -> int:
    """Analytic MACs of one wNLB on ``positions`` positions (kv_stride 1)."""
    if mode == "embedded":  # theta, phi, g, W_z projections; Q K^T and A V
        return 4 * positions * channels * inter + 2 * positions * positions * inter
    if mode == "dot":  # four projections; phi^T g and theta (phi^T g): N C'^2 each
        return 4 * positions * channels * inter + 2 * positions * inter * inter
    raise ValueError(mode)


@pytest.mark.parametrize("mode", ["embedded", "dot"])
def test_block_count_includes_the_attention_products(mode):
    with torch.device("meta"):
        block = WeightedNonLocalBlock(48, 24, mode=mode)
    macs = count_macs(nn.Sequential(nn.Conv2d(3, 48, 4, stride=4, device="meta"), block), 40, 60)
    conv = 10 * 15 * 48 * 3 * 4 * 4
    assert macs["1"] == block_macs(48, 24, 150, mode)
    assert macs[""] == conv + macs["1"]


def test_count_refuses_real_tensors():
    """On CPU tensors FlopCounterMode misses the fused attention kernel: counting there would under-report."""
    with pytest.raises(ValueError, match="meta device"):
        count_macs(WeightedNonLocalBlock(8, 4), 8, 8)
