"""Weighted non-local block (wNLB).

A non-local block (Wang et al., CVPR 2018) lets every position of a feature map aggregate
features from all other positions, weighted by pairwise similarity. The *weighted* variant of
Lin, Anantrasirichai and Bull (ICASSP 2025) mixes its output with the input through one
learnable scalar per block::

    y_i = sum_j f(x_i, x_j) g(x_j)                 (non-local aggregation)
    z   = (1 - w) * x + w * BN(W_z y)              (w initialised to 0: identity at start)

Memory: none of the modes materialises the N x N similarity matrix (N = H * W positions):

* ``embedded`` / ``gaussian`` are softmax attention and run through
  :func:`torch.nn.functional.scaled_dot_product_attention` with one head and ``scale=1``, on
  contiguous ``(B, 1, N, C')`` tensors so that the flash / cuDNN kernels are chosen; on CUDA,
  heads wider than those kernels take (deep stages) run through
  :func:`~wnlb_zoo.layers.blockwise.blockwise_attention` (the same algorithm with
  batched matrix products, O(N) memory);
* ``dot`` is linear in f, so ``theta (phi^T g) / N`` is computed instead, O(N C'^2);
* ``concatenate`` uses ``f_ij = ReLU(a . theta_i + b . phi_j) / N``. For a fixed i the ReLU is
  active exactly for the j whose ``b . phi_j`` exceeds ``-a . theta_i``; sorting those scalars
  once and keeping suffix sums of ``g_j`` and ``(b . phi_j) g_j`` turns every row into one
  binary search: O(N log N + N C') time and O(N C') memory, exact (not an approximation).

Graph capture (see :mod:`.graph_capture`): ``torch.fx`` keeps :func:`_softmax_attention` and
:func:`_concatenate_attention` as calls (timm's ``register_notrace_function`` and ``torch.fx.wrap``),
since they choose a formulation from the tensors' shapes and device when they run; TorchScript
compiles every mode; ``torch.jit.trace`` and the exporters take exact formulations they can hold
(softmax attention through SDPA at every head width, the ``concatenate`` search as a merge by
sorting), and the exporters keep the caller's memory format.
"""

# No ``from __future__ import annotations`` here: TorchScript reads the block's class-level attribute
# annotations as types, and would find strings.
import math
import numbers
from typing import Literal

import torch
import torch.nn.functional as F
from timm.layers import register_notrace_function
from torch import nn

from .blockwise import FUSED_HEAD_LIMIT, MIXED_PRECISION_BMM, blockwise_attention
from .graph_capture import is_exporting, is_tracing_or_exporting

NonLocalMode = Literal["embedded", "gaussian", "dot", "concatenate"]
NonLocalInit = Literal["default", "reference"]
NON_LOCAL_MODES: tuple[str, ...] = ("embedded", "gaussian", "dot", "concatenate")
NON_LOCAL_INITS: tuple[str, ...] = ("default", "reference")


class WeightedNonLocalBlock(nn.Module):
    """Weighted non-local block: ``z = (1 - w) x + w BN(W_z y)`` with a learnable scalar ``w``.

    Args:
        channels: Channels C of the input feature map.
        inter_channels: Channels C' of the embeddings theta/phi/g. Default ``C // 2``.
        mode: Pairwise function: ``'embedded'`` (softmax of theta_i . phi_j, the default),
            ``'gaussian'`` (softmax of x_i . x_j), ``'dot'`` (theta_i . phi_j / N) or
            ``'concatenate'`` (ReLU(W_f [theta_i, phi_j]) / N).
        kv_stride: Max-pool phi and g (the keys and values) by this factor before attending,
            ``ceil_mode`` so that every position is covered. 1 (the default and the paper) means
            no sub-sampling; 2 divides the attention cost by four.
        init: ``'default'`` keeps the standard conv / BatchNorm init, so the attention path learns
            as soon as the gate moves away from 0. ``'reference'`` reproduces the authors' code,
            which also zeroes W_z and its BatchNorm: the attention path then never receives a
            gradient and the block reduces to ``(1 - w) x + w beta``. Kept for ablations.
        norm_layer: Normalisation after W_z (BatchNorm2d in the paper).
        device: Device of the parameters (timm's factory kwargs).
        dtype: Dtype of the parameters (timm's factory kwargs).

    The output has the input's shape and dtype and is channels_last in memory whatever the input's
    layout (see :meth:`forward`); layers after the block then run channels_last too. While the
    model is exported (``torch.export``, ``torch.onnx.export``) the output keeps the input's layout.

    Every mode compiles with ``torch.jit.script``. Mode-specific projections are ``None`` where the
    mode has none (``theta`` and ``phi`` in ``gaussian`` mode, ``pair_score`` outside ``concatenate``).
    """

    channels: int
    inter_channels: int
    mode: str
    kv_stride: int
    init: str

    def __init__(
        self,
        channels: int,
        inter_channels: int | None = None,
        mode: NonLocalMode = "embedded",
        kv_stride: int = 1,
        init: NonLocalInit = "default",
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if mode not in NON_LOCAL_MODES:
            raise ValueError(f"Unknown wNLB mode {mode!r}; choose one of {NON_LOCAL_MODES}.")
        if init not in NON_LOCAL_INITS:
            raise ValueError(f"Unknown wNLB init {init!r}; choose one of {NON_LOCAL_INITS}.")
        if not is_whole_number(kv_stride) or kv_stride < 1:
            raise ValueError(
                f"kv_stride must be a whole number >= 1 (1 = exact attention, 2 or more max-pools the keys and "
                f"values), got {kv_stride!r}."
            )
        inter_channels = inter_channels or max(channels // 2, 1)
        dd = {"device": device, "dtype": dtype}
        self.channels = channels
        self.inter_channels = inter_channels
        self.mode = mode
        self.kv_stride = kv_stride
        self.init = init

        self.g = nn.Conv2d(channels, inter_channels, 1, **dd)
        self.theta: nn.Conv2d | None = None
        self.phi: nn.Conv2d | None = None
        if mode != "gaussian":
            self.theta = nn.Conv2d(channels, inter_channels, 1, **dd)
            self.phi = nn.Conv2d(channels, inter_channels, 1, **dd)
        # W_f of the paper: scores a concatenated pair [theta_i, phi_j] (no bias, as in Wang et al.).
        self.pair_score: nn.Conv2d | None = None
        if mode == "concatenate":
            self.pair_score = nn.Conv2d(2 * inter_channels, 1, 1, bias=False, **dd)
        self.w_z = nn.Conv2d(inter_channels, channels, 1, **dd)
        self.norm = norm_layer(channels, **dd)
        self.gate = nn.Parameter(torch.zeros((), **dd))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """(Re-)initialise every parameter according to ``self.init``."""
        for module in self.children():
            module.reset_parameters()
        if self.init == "reference":
            for tensor in (self.w_z.weight, self.w_z.bias, self.norm.weight, self.norm.bias):
                nn.init.zeros_(tensor)
        with torch.no_grad():
            self.gate.zero_()

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, kv_stride={self.kv_stride}, init={self.init!r}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        # The block works in channels_last, where its (B, N, C) tokens are a free view of x and its
        # output, norm and gate share one layout. An NCHW input costs one copy (the token copy any
        # layout needs) and the result stays channels_last, like a channels_last convolution's:
        # converting back, or mixing layouts in the gate, was slower on an H200 (docs/benchmarks.md).
        # Exported graphs keep the caller's layout: a channels_last tensor reaching the next convolution
        # makes torch.export specialise a dynamic batch to a batch-1 example's (docs/frameworks.md).
        if not is_exporting():
            x = x.contiguous(memory_format=torch.channels_last)
        tokens = x.permute(0, 2, 3, 1).reshape(batch, height * width, channels)
        value = self._pool(_project(tokens, self.g.weight, self.g.bias), height, width)
        if self.theta is None or self.phi is None:  # gaussian: x itself embeds the queries and keys
            query, key = tokens, self._pool(tokens, height, width)
        else:
            query = _project(tokens, self.theta.weight, self.theta.bias)
            key = self._pool(_project(tokens, self.phi.weight, self.phi.bias), height, width)

        if self.pair_score is not None:  # concatenate
            weight = self.pair_score.weight.flatten()
            query_score = query @ weight[: self.inter_channels].to(query.dtype)
            key_score = key @ weight[self.inter_channels :].to(key.dtype)
            y = _concatenate_attention(query_score, key_score, value)
        elif self.mode == "dot":
            y = _dot_attention(query, key, value)
        else:
            y = _softmax_attention(query, key, value)

        out = _project(y, self.w_z.weight, self.w_z.bias).view(batch, height, width, channels).permute(0, 3, 1, 2)
        out = self.norm(out).to(x.dtype)
        return torch.lerp(x, out, self.gate.to(x.dtype))  # (1 - w) x + w out, one kernel

    def _pool(self, tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Max-pool (B, N, C) tokens on their H x W grid by ``kv_stride`` (identity at 1)."""
        if self.kv_stride == 1:
            return tokens
        batch, _, channels = tokens.shape
        grid = tokens.view(batch, height, width, channels).permute(0, 3, 1, 2)
        if is_exporting():
            # The same windows: ceil_mode's test of the last one is a guard torch.export cannot prove for a
            # dynamic size, so an exported graph pads the grid to whole windows with -inf (never a maximum).
            stride = self.kv_stride
            rows, columns = (height + stride - 1) // stride, (width + stride - 1) // stride
            grid = F.pad(grid, (0, columns * stride - width, 0, rows * stride - height), value=-math.inf)
            pooled = F.max_pool2d(grid, stride, stride)
        else:
            pooled = F.max_pool2d(grid, self.kv_stride, self.kv_stride, ceil_mode=True)
        return pooled.permute(0, 2, 3, 1).reshape(batch, -1, channels)


def is_whole_number(value: object) -> bool:
    """Whether ``value`` is an integer (Python or NumPy) and not a bool: what a stride or a count takes."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _project(tokens: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Apply a 1x1 conv (its ``weight`` and ``bias``) to (B, N, C_in) tokens, giving contiguous (B, N, C_out)."""
    return F.linear(tokens, weight.flatten(1), bias)


def uses_blockwise(device: torch.device, head: int) -> bool:
    """Whether softmax attention with this head width runs :func:`blockwise_attention` on ``device``.

    On CUDA, SDPA has no flash or cuDNN kernel for heads over :data:`FUSED_HEAD_LIMIT` and its
    memory-efficient kernel is slow there when training (docs/benchmarks.md, "The wide-head attention
    kernels"); batched matrix products suit those few-position, wide-head shapes, given
    PyTorch's float32-output products of half-precision inputs (:data:`MIXED_PRECISION_BMM`). The
    CPU's flash kernel takes any width and ran faster than the blockwise path on one thread
    (docs/benchmarks.md).
    """
    return device.type == "cuda" and head > FUSED_HEAD_LIMIT and MIXED_PRECISION_BMM


@torch.fx.wrap
@register_notrace_function
def _softmax_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """softmax_j(q_i . k_j) v_j with no 1/sqrt(d) scale, on the fastest exact path for the head size.

    Heads up to :data:`FUSED_HEAD_LIMIT` wide run through the fused SDPA kernels (flash / cuDNN).
    Those need one head size for q, k and v, else SDPA quietly falls back to the math kernel and its
    N x N matrix: in ``gaussian`` mode q and k have C channels and v has C', so the narrower side is
    zero-padded (zero columns change neither q . k nor the first C' outputs) and the padding is
    sliced off the result. On CUDA, heads wider than those kernels take (the deep stages) go to
    :func:`blockwise_attention`, which takes unequal widths as they are (see :func:`uses_blockwise`),
    except in TorchScript, ``torch.jit.trace`` and export, whose graphs cannot hold its autograd
    function: they take SDPA at every width, which is exact too (on CUDA, wide heads then run SDPA's
    memory-efficient kernel, as they would without the blockwise path).
    """
    width = value.shape[-1]
    head = max(query.shape[-1], width)
    if not torch.jit.is_scripting():
        if uses_blockwise(query.device, head) and not is_tracing_or_exporting():
            return blockwise_attention(query, key, value)
    if query.shape[-1] < head:
        query, key = F.pad(query, (0, head - query.shape[-1])), F.pad(key, (0, head - key.shape[-1]))
    if width < head:
        value = F.pad(value, (0, head - width))
    out = F.scaled_dot_product_attention(
        query.unsqueeze(1).contiguous(),
        key.unsqueeze(1).contiguous(),
        value.unsqueeze(1).contiguous(),
        scale=1.0,
    )
    return out.squeeze(1)[..., :width]


def _dot_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """sum_j (q_i . k_j) v_j / N_k, re-associated as q (k^T v) / N_k.

    The C' x C' product ``k^T v`` sums over every position, which overflows float16 at detection
    sizes (N = 67,200 at stride 4 of 800x1333), so it is formed in at least float32; it is tiny.
    """
    sum_dtype = torch.promote_types(query.dtype, torch.float32)
    summary = key.transpose(1, 2).to(sum_dtype) @ value.to(sum_dtype) / key.shape[1]
    return (query.to(sum_dtype) @ summary).to(query.dtype)


@torch.fx.wrap
@register_notrace_function
def _concatenate_attention(query_score: torch.Tensor, key_score: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """sum_j ReLU(s_i + t_j) v_j / N_k for scores s (B, N_q), t (B, N_k), values v (B, N_k, C).

    Row i only sums the j with t_j > -s_i, where the term is (s_i + t_j) v_j. With t sorted,
    that set is a suffix, so two suffix sums (of v and of t v) and one binary search per row
    give the exact result without the N_q x N_k matrix.

    The suffix sums run over every position, which overflows float16 and loses bfloat16's few bits
    at detection sizes (N = 67,200 at stride 4 of 800x1333), so, as in :func:`_dot_attention`, they
    are accumulated and combined in at least float32 and only the result takes the input dtype.

    Exported graphs find the suffixes with :func:`_merged_suffix_starts` (ONNX has no searchsorted).
    """
    sum_dtype = torch.promote_types(value.dtype, torch.float32)
    sorted_score, order = key_score.sort(dim=1)
    sorted_value = value.gather(1, order.unsqueeze(-1).expand_as(value)).to(sum_dtype)
    sorted_score, query_score = sorted_score.to(sum_dtype), query_score.to(sum_dtype)
    pad = sorted_value.new_zeros(value.shape[0], 1, value.shape[2])
    value_suffix = torch.cat([sorted_value.flip(1).cumsum(1).flip(1), pad], dim=1)
    weighted = sorted_score.unsqueeze(-1) * sorted_value
    weighted_suffix = torch.cat([weighted.flip(1).cumsum(1).flip(1), pad], dim=1)
    if is_exporting():
        start = _merged_suffix_starts(sorted_score, -query_score)
    else:
        start = torch.searchsorted(sorted_score.contiguous(), (-query_score).contiguous(), right=True)
    index = start.unsqueeze(-1).expand(-1, -1, value.shape[2])
    out = query_score.unsqueeze(-1) * value_suffix.gather(1, index) + weighted_suffix.gather(1, index)
    return (out / key_score.shape[1]).to(value.dtype)


def _merged_suffix_starts(sorted_keys: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """``torch.searchsorted(sorted_keys, thresholds, right=True)`` of (B, N_k) and (B, N_q), by sorting once.

    Sorting keys and thresholds together puts before each threshold the keys below it; a running
    count of keys gives that number at every place, and scattering the counts back to the
    thresholds' own order gives the search's result. A key equal to a threshold may land on either
    side (ONNX has no stable sort), which :func:`_concatenate_attention` does not see: that key's
    term ``(s_i + t_j) v_j`` is zero. Sort, cumulative sum and scatter all exist in ONNX; time
    O((N_k + N_q) log(N_k + N_q)), memory O(N_k + N_q).
    """
    keys = sorted_keys.shape[1]
    order = torch.cat([sorted_keys, thresholds], dim=1).argsort(dim=1)
    keys_so_far = (order < keys).to(torch.int64).cumsum(dim=1)
    return torch.zeros_like(keys_so_far).scatter(1, order, keys_so_far)[:, keys:]
