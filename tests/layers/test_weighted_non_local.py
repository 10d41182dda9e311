"""The weighted non-local block against a straightforward, materialised reference."""

import pytest
import torch
import torch.nn.functional as F

from wnlb_zoo.benchmark import naive_block_forward
from wnlb_zoo.layers import NON_LOCAL_MODES, WeightedNonLocalBlock, weighted_non_local


def reference_forward(block: WeightedNonLocalBlock, x: torch.Tensor) -> torch.Tensor:
    """The textbook non-local block (the benchmarks' baseline): the N x N pairwise matrix f, then y = f g."""
    return naive_block_forward(block, x)


def test_the_reference_scores_concatenated_pairs_as_the_paper_writes_them():
    """The reference forms concatenate's W_f [theta_i, phi_j] as a . theta_i + b . phi_j (W_f is linear):
    the same scores as stacking every explicit pair and applying W_f to it."""
    block = randomised_block("concatenate", channels=6)
    x = torch.randn(2, 6, 3, 4, dtype=torch.float64)
    query = F.conv2d(x, block.theta.weight, block.theta.bias).flatten(2)
    key = F.conv2d(x, block.phi.weight, block.phi.bias).flatten(2)
    n_query, n_keys = query.shape[-1], key.shape[-1]
    pairs = torch.cat(
        [query.unsqueeze(-1).expand(-1, -1, -1, n_keys), key.unsqueeze(-2).expand(-1, -1, n_query, -1)], dim=1
    )
    f = F.relu(F.conv2d(pairs, block.pair_score.weight)).squeeze(1) / n_keys
    value = F.conv2d(x, block.g.weight, block.g.bias).flatten(2)
    y = (f @ value.transpose(1, 2)).transpose(1, 2).reshape(2, -1, 3, 4)
    out = block.norm(F.conv2d(y, block.w_z.weight, block.w_z.bias))
    torch.testing.assert_close(reference_forward(block, x), (1 - block.gate) * x + block.gate * out)


def randomised_block(mode: str, kv_stride: int = 1, channels: int = 12) -> WeightedNonLocalBlock:
    torch.manual_seed(0)
    block = WeightedNonLocalBlock(channels, mode=mode, kv_stride=kv_stride).double()
    with torch.no_grad():
        block.gate.fill_(0.37)
        block.norm.weight.uniform_(0.5, 1.5)
        block.norm.bias.uniform_(-0.5, 0.5)
    return block


@pytest.mark.parametrize("kv_stride", [1, 2, 3])
@pytest.mark.parametrize("mode", NON_LOCAL_MODES)
def test_matches_materialised_reference_in_float64(mode, kv_stride):
    block = randomised_block(mode, kv_stride)
    x = torch.randn(2, 12, 7, 9, dtype=torch.float64)
    expected = reference_forward(block, x)
    actual = block(x)
    relative_error = (actual - expected).abs().max() / expected.abs().max()
    assert relative_error < 1e-6


@pytest.mark.parametrize("mode", NON_LOCAL_MODES)
def test_gradients_match_reference(mode):
    block = randomised_block(mode)
    x = torch.randn(1, 12, 5, 6, dtype=torch.float64, requires_grad=True)
    reference_grads = torch.autograd.grad(reference_forward(block, x).square().sum(), [x, *block.parameters()])
    actual_grads = torch.autograd.grad(block(x).square().sum(), [x, *block.parameters()])
    for expected, actual in zip(reference_grads, actual_grads, strict=True):
        torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-9)


def test_concatenate_handles_ties_and_all_inactive_rows():
    """Equal key scores and rows whose ReLU is off everywhere must still match the reference."""
    block = randomised_block("concatenate")
    with torch.no_grad():
        block.phi.weight.zero_()  # every key score t_j equals the bias term: all ties
    x = torch.randn(2, 12, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(block(x), reference_forward(block, x), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("mode", NON_LOCAL_MODES)
def test_starts_as_identity(mode):
    block = WeightedNonLocalBlock(8, mode=mode)
    x = torch.randn(2, 8, 6, 5)
    assert torch.equal(block(x), x)


def test_inter_channels_default_and_explicit():
    assert WeightedNonLocalBlock(64).inter_channels == 32
    block = WeightedNonLocalBlock(64, inter_channels=16)
    assert block.theta.out_channels == block.phi.out_channels == block.g.out_channels == 16
    assert block.w_z.in_channels == 16


def test_gaussian_has_no_theta_phi_and_concatenate_has_pair_score():
    gaussian = WeightedNonLocalBlock(8, mode="gaussian")
    assert gaussian.theta is None and gaussian.phi is None and gaussian.pair_score is None
    assert not any(name.startswith(("theta", "phi")) for name in gaussian.state_dict())
    assert WeightedNonLocalBlock(8, mode="concatenate").pair_score.in_channels == 8


def test_reference_init_zeroes_w_z_and_norm():
    block = WeightedNonLocalBlock(8, init="reference")
    for tensor in (block.w_z.weight, block.w_z.bias, block.norm.weight, block.norm.bias, block.gate):
        assert not tensor.any()
    assert WeightedNonLocalBlock(8).norm.weight.all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="cosine"), "Unknown wNLB mode 'cosine'"),
        (dict(init="zeros"), "Unknown wNLB init 'zeros'"),
        (dict(kv_stride=0), "kv_stride must be a whole number >= 1"),
        (dict(kv_stride=1.5), r"kv_stride must be a whole number >= 1 \(1 = exact attention.*got 1.5"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WeightedNonLocalBlock(8, **kwargs)


def test_device_and_dtype_factory_kwargs():
    block = WeightedNonLocalBlock(8, device="cpu", dtype=torch.float64)
    assert {p.dtype for p in block.parameters()} == {torch.float64}
    meta = WeightedNonLocalBlock(8, device="meta")
    assert all(p.is_meta for p in meta.parameters())


def test_either_layout_gives_the_same_channels_last_result():
    """The block computes in channels_last (one layout for tokens, norm and gate) and returns that layout."""
    block = randomised_block("embedded").float()
    x = torch.randn(2, 12, 7, 9)
    from_nchw, from_channels_last = block(x), block(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(from_channels_last, from_nchw)
    assert from_nchw.is_contiguous(memory_format=torch.channels_last)
    assert from_channels_last.is_contiguous(memory_format=torch.channels_last)


def test_bf16_autocast_keeps_input_dtype():
    block = randomised_block("embedded").float()
    x = torch.randn(1, 12, 6, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = block(x.bfloat16())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), block(x), atol=0.1, rtol=0.05)


def test_dot_mode_does_not_overflow_in_float16():
    """k^T v sums over all positions: in float16 it would overflow at detection-sized maps."""
    query = torch.full((1, 4096, 8), 1.5, dtype=torch.float16)
    key = value = torch.full((1, 67_200, 8), 1.5, dtype=torch.float16)
    from wnlb_zoo.layers.weighted_non_local import _dot_attention

    out = _dot_attention(query, key, value)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    assert out[0, 0, 0].item() == pytest.approx(8 * 1.5 * 1.5**2, rel=1e-2)  # q . (k^T v / N)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_concatenate_mode_is_accurate_in_half_precision_at_detection_sizes(dtype):
    """The suffix sums over all 67,200 positions of a stride-4 map (800x1333) are kept in float32.

    The scores share a large offset that cancels in s_i + t_j (as biased projections of
    non-negative features do), so rounding the suffix sums to ``dtype`` would leave errors far above
    one unit in the last place of the result; in float16 the sums would also overflow. The inputs
    are exact in ``dtype``, so the result must be the float64 one, rounded.
    """
    from wnlb_zoo.layers.weighted_non_local import _concatenate_attention

    generator = torch.Generator().manual_seed(0)
    positions = 200 * 336
    key_score = (8 + torch.randn(1, positions, generator=generator, dtype=torch.float64)).to(dtype)
    query_score = (-8 + torch.randn(1, positions, generator=generator, dtype=torch.float64)).to(dtype)
    value = (1 + torch.rand(1, positions, 4, generator=generator, dtype=torch.float64)).to(dtype)

    out = _concatenate_attention(query_score, key_score, value)
    exact = _concatenate_attention(query_score.double(), key_score.double(), value.double())
    assert out.dtype == dtype
    unit = torch.finfo(dtype).eps  # one unit in the last place, relative
    torch.testing.assert_close(out.double(), exact, rtol=unit, atol=unit * exact.abs().max().item() * 1e-3)


def test_the_exported_concatenate_search_finds_what_searchsorted_finds(monkeypatch):
    """Exported graphs search by one merge sort (ONNX has no searchsorted): same positions, same result with ties."""
    generator = torch.Generator().manual_seed(0)
    keys = torch.randn(2, 40, generator=generator, dtype=torch.float64).sort(dim=1).values
    thresholds = torch.randn(2, 30, generator=generator, dtype=torch.float64)
    expected = torch.searchsorted(keys, thresholds, right=True)
    assert torch.equal(weighted_non_local._merged_suffix_starts(keys, thresholds), expected)

    key_score = torch.randint(-3, 4, (2, 40), generator=generator).double()  # ties between and within scores
    query_score = torch.randint(-3, 4, (2, 30), generator=generator).double()
    value = torch.randn(2, 40, 5, generator=generator, dtype=torch.float64)
    searched = weighted_non_local._concatenate_attention(query_score, key_score, value)
    monkeypatch.setattr(weighted_non_local, "is_exporting", lambda: True)
    merged = weighted_non_local._concatenate_attention(query_score, key_score, value)
    torch.testing.assert_close(merged, searched, rtol=1e-12, atol=1e-12)
