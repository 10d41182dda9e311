"""The block's softmax modes run on the fused SDPA kernels, never silently on the math fallback.

Restricting SDPA to one backend makes any input that backend cannot take an error instead of a
quiet fallback to the math kernel (which materialises the N x N matrix). The CPU has a flash
kernel; on a GPU the flash kernel covers head dims up to 256 in half precision, the
memory-efficient kernel float32, and wider heads take the blockwise path, which calls no SDPA kernel.
"""

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from wnlb_zoo.benchmark import naive_block_forward
from wnlb_zoo.layers import WeightedNonLocalBlock

SOFTMAX_MODES = ("embedded", "gaussian")


def run_block(block: WeightedNonLocalBlock, x: torch.Tensor, dtype: torch.dtype) -> None:
    x = x.detach().requires_grad_()
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32):
        out = block(x)
    out.float().square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert block.g.weight.grad is not None and block.g.weight.grad.abs().sum() > 0


def gated_block(channels: int, mode: str, device: str, kv_stride: int = 1) -> WeightedNonLocalBlock:
    block = WeightedNonLocalBlock(channels, mode=mode, kv_stride=kv_stride).to(device)
    with torch.no_grad():
        block.gate.fill_(0.5)
    return block


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("kv_stride", [1, 2])
@pytest.mark.parametrize("mode", SOFTMAX_MODES)
def test_block_runs_with_only_the_cpu_flash_kernel(mode, kv_stride, channels_last):
    block = gated_block(32, mode, "cpu", kv_stride)
    x = torch.randn(2, 32, 9, 11)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
        run_block(block, x, torch.float32)


@pytest.mark.parametrize("inter_channels", [8, 64])
def test_gaussian_pads_to_one_head_size_exactly(inter_channels):
    """gaussian: q, k have C channels, v has C'; padded to one head size, the result is unchanged."""
    torch.manual_seed(0)
    block = WeightedNonLocalBlock(16, inter_channels=inter_channels, mode="gaussian").double()
    with torch.no_grad():
        block.gate.fill_(0.5)
    x = torch.randn(2, 16, 5, 6, dtype=torch.float64)
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
        actual = block(x)
    torch.testing.assert_close(actual, naive_block_forward(block, x), rtol=1e-9, atol=1e-9)


def test_backend_restriction_is_enforced():
    """Control: the CPU has no memory-efficient kernel, so restricting to it must fail, not fall back."""
    block = gated_block(16, "embedded", "cpu")
    with sdpa_kernel([SDPBackend.EFFICIENT_ATTENTION]), pytest.raises(RuntimeError):
        block(torch.randn(1, 16, 4, 4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(
    "channels, dtype, backend",
    [
        (256, torch.bfloat16, SDPBackend.FLASH_ATTENTION),  # C' = 128
        (512, torch.bfloat16, SDPBackend.FLASH_ATTENTION),  # C' = 256, the flash limit
        (1024, torch.bfloat16, SDPBackend.FLASH_ATTENTION),  # C' = 512: blockwise, SDPA never called
        (256, torch.float32, SDPBackend.EFFICIENT_ATTENTION),  # flash has no float32
    ],
)
@pytest.mark.parametrize("mode", SOFTMAX_MODES)
def test_block_runs_with_only_fused_gpu_kernels(mode, channels, dtype, backend):
    block = gated_block(channels, mode, "cuda")
    x = torch.randn(2, channels, 24, 40, device="cuda")
    with sdpa_kernel([backend]):
        run_block(block, x, dtype)
