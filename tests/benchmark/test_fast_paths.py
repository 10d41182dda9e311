"""channels_last inputs and torch.compile run through the wNLB fast paths and give the eager results."""

import pytest
import timm
import torch

import wnlb_zoo  # noqa: F401  (registers the models)
from wnlb_zoo.layers import WeightedNonLocalBlock


def gated_backbone(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = timm.create_model(name, features_only=True, out_indices=(1, 2, 3, 4)).eval()
    with torch.no_grad():
        for block in model.modules():
            if isinstance(block, WeightedNonLocalBlock):
                block.gate.fill_(0.5)
    return model


def test_channels_last_backbone_matches_and_keeps_its_layout():
    model = gated_backbone("wnlb_resnet18")
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        actual = model(x.to(memory_format=torch.channels_last))
    for got, want in zip(actual, expected, strict=True):
        assert got.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "mode",
    ["embedded", pytest.param("gaussian", marks=pytest.mark.slow), pytest.param("concatenate", marks=pytest.mark.slow)],
)
def test_compiled_block_trains_like_eager(mode):
    torch.manual_seed(0)
    block = WeightedNonLocalBlock(16, mode=mode)
    with torch.no_grad():
        block.gate.fill_(0.5)
    x = torch.randn(2, 16, 6, 5, requires_grad=True)
    compiled = torch.compile(block, fullgraph=True)
    compiled(x).square().sum().backward()
    compiled_grad, x.grad = x.grad, None
    block(x).square().sum().backward()
    torch.testing.assert_close(compiled_grad, x.grad, rtol=1e-3, atol=1e-4)


@pytest.mark.slow
def test_compiled_backbone_in_channels_last_matches_eager():
    """fullgraph=True: no graph break anywhere in a wNLB ResNet (about a minute on two cores)."""
    model = gated_backbone("wnlb_resnet18").to(memory_format=torch.channels_last)
    x = torch.rand(1, 3, 64, 96).to(memory_format=torch.channels_last)
    compiled = torch.compile(model, fullgraph=True)
    with torch.no_grad():
        for got, want in zip(compiled(x), model(x), strict=True):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(
    "mode, channels",
    [("embedded", 64), ("gaussian", 64), ("dot", 64), ("concatenate", 64), ("embedded", 1024)],  # 1024: blockwise
)
def test_block_never_synchronises_with_the_host(mode, channels):
    block = WeightedNonLocalBlock(channels, mode=mode, kv_stride=2).cuda()
    x = torch.randn(2, channels, 16, 20, device="cuda", requires_grad=True)
    block(x).sum().backward()  # warm up (lazy initialisation may synchronise once)
    torch.cuda.set_sync_debug_mode("error")
    try:
        block(x).sum().backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
