"""Blockwise attention (heads wider than the fused GPU kernels take) is exact, and the block uses it.

The block takes the blockwise path on CUDA only; the CPU tests of the block route wide heads
through it with the ``blockwise_on_cpu`` fixture; tests/benchmark/test_sdpa_backends.py checks the
routing on a GPU.
"""

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from wnlb_zoo.benchmark import naive_block_forward
from wnlb_zoo.layers import FUSED_HEAD_LIMIT, WeightedNonLocalBlock, blockwise_attention, weighted_non_local
from wnlb_zoo.layers import blockwise as blockwise_module


def reference(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    return torch.softmax(query @ key.transpose(1, 2), dim=-1) @ value


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Blocks of 5 query rows for 2 x 7 keys: several blocks and a ragged last one."""
    monkeypatch.setattr(blockwise_module, "BLOCK_ELEMENTS", 2 * 7 * 5)
    assert blockwise_module.block_rows(2, 7) == 5


@pytest.fixture
def blockwise_on_cpu(monkeypatch):
    """Route the block's wide heads through the blockwise path on the CPU too."""
    monkeypatch.setattr(weighted_non_local, "uses_blockwise", lambda device, head: head > FUSED_HEAD_LIMIT)


def test_only_wide_heads_on_cuda_take_the_blockwise_path():
    assert weighted_non_local.uses_blockwise(torch.device("cuda", 0), FUSED_HEAD_LIMIT + 1)
    assert not weighted_non_local.uses_blockwise(torch.device("cuda"), FUSED_HEAD_LIMIT)
    assert not weighted_non_local.uses_blockwise(torch.device("cpu"), 4 * FUSED_HEAD_LIMIT)


def float64_inputs(queries: int = 13, keys: int = 7, head: int = 6, width: int = 4) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    shapes = [(2, queries, head), (2, keys, head), (2, keys, width)]
    return [torch.randn(shape, dtype=torch.float64, generator=generator).requires_grad_() for shape in shapes]


def test_matches_the_materialised_softmax_over_several_blocks(tiny_blocks):
    query, key, value = float64_inputs()
    expected = reference(query, key, value)
    torch.testing.assert_close(blockwise_attention(query, key, value), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "needs_grad", [(True, True, True), (True, False, False), (False, True, False), (False, False, True)]
)
def test_gradients_are_exact(tiny_blocks, needs_grad):
    inputs = [t.detach().requires_grad_(needed) for t, needed in zip(float64_inputs(), needs_grad, strict=True)]
    assert torch.autograd.gradcheck(blockwise_attention, tuple(inputs))


def test_an_empty_batch_gives_an_empty_result():
    assert blockwise_attention(*[torch.randn(0, 5, 3)] * 3).shape == (0, 5, 3)


def test_half_precision_keeps_the_scores_in_float32():
    """Unscaled logits of a wide head are large: scores rounded to bfloat16 would be far off."""
    generator = torch.Generator().manual_seed(0)
    query, key, value = (torch.randn(2, 300, 512, generator=generator).to(torch.bfloat16) for _ in range(3))
    query, key = query * 2, key * 2
    expected = reference(*(t.double() for t in (query, key, value)))
    rounded_scores = reference(query, key, value).double()
    assert (rounded_scores - expected).abs().max() > 0.3  # the control: bfloat16 scores fail
    torch.testing.assert_close(blockwise_attention(query, key, value).double(), expected, rtol=0, atol=0.03)


def test_half_precision_gradients_are_close_to_float64():
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(1, 200, 320, generator=generator) for _ in range(3)]
    grad = torch.randn(1, 200, 320, generator=generator)
    half = [t.to(torch.bfloat16).requires_grad_() for t in inputs]
    exact = [t.to(torch.bfloat16).double().requires_grad_() for t in inputs]
    blockwise_attention(*half).backward(grad.to(torch.bfloat16))
    reference(*exact).backward(grad.double())
    for got, want in zip(half, exact, strict=True):
        assert got.grad.dtype == torch.bfloat16
        assert (got.grad.double() - want.grad).norm() / want.grad.norm() < 0.02


@pytest.mark.parametrize("mode, channels, inter_channels", [("embedded", 16, 264), ("gaussian", 272, 8)])
def test_block_on_the_blockwise_path_matches_the_materialised_block(
    tiny_blocks, blockwise_on_cpu, mode, channels, inter_channels
):
    """Output and the gradients of the input and of every parameter, in float64 against the naive block
    (explicit N x N softmax). No SDPA call at all: with SDPA restricted to a backend the CPU lacks, any
    call would raise.

    Both sides are float64 sums of at most a few hundred terms of order one, so they agree to ~1e-13;
    1e-9 leaves room for summation order and still fails on any wrong term of the backward.
    """
    torch.manual_seed(0)
    block = WeightedNonLocalBlock(channels, inter_channels=inter_channels, mode=mode, kv_stride=2).double()
    with torch.no_grad():
        block.gate.fill_(0.5)
    x = torch.randn(2, channels, 5, 6, dtype=torch.float64, requires_grad=True)
    output_grad = torch.randn(2, channels, 5, 6, dtype=torch.float64)
    with sdpa_kernel([SDPBackend.EFFICIENT_ATTENTION]):
        actual = block(x)
        actual.backward(output_grad)
    parameters = [parameter for parameter in block.parameters() if parameter.requires_grad]
    actual_grads = [x.grad, *(parameter.grad for parameter in parameters)]
    expected = naive_block_forward(block, x)
    expected_grads = torch.autograd.grad(expected, [x, *parameters], output_grad)
    torch.testing.assert_close(actual, expected, rtol=1e-9, atol=1e-9)
    assert all(grad is not None and grad.abs().sum() > 0 for grad in actual_grads)
    for got, want in zip(actual_grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_compiled_wide_head_block_trains_like_eager(blockwise_on_cpu):
    torch.manual_seed(0)
    block = WeightedNonLocalBlock(16, inter_channels=264)
    with torch.no_grad():
        block.gate.fill_(0.5)
    x = torch.randn(2, 16, 6, 5, requires_grad=True)
    torch.compile(block, fullgraph=True)(x).square().sum().backward()
    compiled_grad, x.grad = x.grad, None
    block(x).square().sum().backward()
    torch.testing.assert_close(compiled_grad, x.grad, rtol=1e-3, atol=1e-4)


class LargestOutput(TorchDispatchMode):
    """Records the largest tensor any operator produces (forward and backward): deterministic memory evidence."""

    def __init__(self) -> None:
        super().__init__()
        self.numel = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, torch.Tensor):
                self.numel = max(self.numel, tensor.numel())
        return out


def test_block_never_forms_the_pairwise_matrix(monkeypatch, blockwise_on_cpu):
    """Every tensor of a wide-head block's forward+backward is O(N C'), none N x N."""
    monkeypatch.setattr(blockwise_module, "BLOCK_ELEMENTS", 4096)
    block = WeightedNonLocalBlock(16, inter_channels=264)
    with torch.no_grad():
        block.gate.fill_(0.5)
    x = torch.randn(2, 16, 40, 40, requires_grad=True)
    positions = 40 * 40
    with LargestOutput() as largest:
        block(x).sum().backward()
    assert largest.numel <= 2 * positions * 264
    assert largest.numel < 2 * positions * positions / 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_half_precision_is_accurate_and_never_synchronises(monkeypatch):
    """The float32-output matrix products on CUDA, several blocks, no host-device synchronisation."""
    monkeypatch.setattr(blockwise_module, "BLOCK_ELEMENTS", 2 * 700 * 128)
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(2, 700, 512, generator=generator) for _ in range(3)]
    grad = torch.randn(2, 700, 512, generator=generator)
    half = [t.cuda().to(torch.bfloat16).requires_grad_() for t in inputs]
    half_grad = grad.cuda().to(torch.bfloat16)  # copied before the check: a pageable host copy synchronises
    exact = [t.to(torch.bfloat16).double().requires_grad_() for t in inputs]
    blockwise_attention(*half).backward(half_grad)  # warm up (lazy initialisation)
    for tensor in half:
        tensor.grad = None
    torch.cuda.set_sync_debug_mode("error")
    try:
        out = blockwise_attention(*half)
        out.backward(half_grad)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    expected = reference(*exact)
    expected.backward(grad.double())
    torch.testing.assert_close(out.double().cpu(), expected.detach(), rtol=0, atol=0.03)
    for got, want in zip(half, exact, strict=True):
        assert (got.grad.double().cpu() - want.grad).norm() / want.grad.norm() < 0.02
