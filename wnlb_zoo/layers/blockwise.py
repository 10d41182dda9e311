"""Exact softmax attention computed in query blocks with matrix products.

The wNLB's deep stages attend with one head as wide as C' (512 and 1,024 for ResNet-50's
strides 16 and 32). PyTorch's flash and cuDNN attention kernels take head sizes up to
:data:`FUSED_HEAD_LIMIT` only; wider heads run SDPA's memory-efficient kernel, which is slow at
such widths, in its backward above all (docs/benchmarks.md, "The wide-head attention kernels").
There the positions are few and the head is wide, which is what plain batched matrix products do
well, so this module computes

    out_i = sum_j softmax_j(q_i . k_j) v_j        (no 1/sqrt(d) scale, as in the block)

block by block over the queries, the way the flash algorithm does, but with ``torch.bmm``:

* forward: for each block of query rows, the scores ``q k^T`` (in float32), their log-sum-exp and
  ``softmax @ v``; only the output and the per-row log-sum-exp are kept for the backward;
* backward: each block's probabilities are recomputed from the log-sum-exp, then
  ``dv += p^T do``, ``ds = p * (do v^T - rowsum(do * out))``, ``dq = ds k``, ``dk += ds^T q``.

Memory is O(N (C + C')) plus a few block-sized temporaries (scores, probabilities and their
gradients, each at most :data:`BLOCK_ELEMENTS` numbers), so it grows linearly with the positions
and never holds the N x N matrix. Scores and their statistics are kept in float32 for
half-precision inputs (as the fused kernels do): with the block's unscaled logits, rounding
scores to bfloat16 would perturb the weights by several percent.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

#: Widest head PyTorch's flash and cuDNN attention kernels take.
FUSED_HEAD_LIMIT = 256
#: Numbers in one block of scores, over the batch (64 MiB in float32); sets the query block's row count.
BLOCK_ELEMENTS = 1 << 24
#: Whether this PyTorch has ``torch.bmm(..., out_dtype=torch.float32)`` for half-precision CUDA inputs
#: (2.8 and later). Without it half-precision scores need float32 copies and float32 products.
MIXED_PRECISION_BMM = "dtype" in torch.ops.aten.bmm.overloads()
_HALF = (torch.float16, torch.bfloat16)


def blockwise_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``softmax(q k^T) v`` of queries (B, N_q, D), keys (B, N_k, D) and values (B, N_k, C).

    Exact, differentiable, in O(N_q + N_k) memory; q/k and v may differ in width. Runs with
    autocast disabled, in the inputs' dtype (half-precision scores are accumulated in float32).
    """
    return _BlockwiseAttention.apply(query, key, value)


def block_rows(batch: int, keys: int) -> int:
    """Query rows per block so that one block's scores hold at most :data:`BLOCK_ELEMENTS` numbers."""
    return max(1, BLOCK_ELEMENTS // max(1, batch * keys))


def _scores_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half-precision inputs, else the inputs' own dtype (float64 stays float64)."""
    return torch.float32 if dtype in _HALF else dtype


def _bmm_wide(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """``left @ right`` returned in :func:`_scores_dtype` (float32 accumulation and output for half inputs)."""
    if left.dtype not in _HALF:
        return torch.bmm(left, right)
    if left.is_cuda and MIXED_PRECISION_BMM:
        return torch.bmm(left, right, out_dtype=torch.float32)
    return torch.bmm(left.float(), right.float())


def _without_autocast(device_type: str) -> contextlib.AbstractContextManager:
    """Autocast off (it would recast the float32 scores), where the device has autocast at all (not 'meta')."""
    if torch.amp.is_autocast_available(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


class _BlockwiseAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        batch, queries, _ = query.shape
        rows = block_rows(batch, key.shape[1])
        out = value.new_empty(batch, queries, value.shape[-1])
        log_sum_exp = query.new_empty(batch, queries, dtype=_scores_dtype(query.dtype))
        with _without_autocast(query.device.type):
            for start in range(0, queries, rows):
                block = slice(start, start + rows)
                scores = _bmm_wide(query[:, block], key.transpose(1, 2))
                block_lse = scores.logsumexp(dim=-1, keepdim=True)
                probabilities = scores.sub_(block_lse).exp_()
                out[:, block] = torch.bmm(probabilities.to(value.dtype), value)
                log_sum_exp[:, block] = block_lse.squeeze(-1)
        ctx.save_for_backward(query, key, value, out, log_sum_exp)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        query, key, value, out, log_sum_exp = ctx.saved_tensors
        needs_query, needs_key, needs_value = ctx.needs_input_grad
        batch, queries, _ = query.shape
        rows = block_rows(batch, key.shape[1])
        scores_dtype = log_sum_exp.dtype
        with _without_autocast(query.device.type):
            grad_out = grad_out.to(value.dtype)
            # rowsum(do * out) = rowsum(do * (p v)) = rowsum(p * (do v^T)): the softmax backward's row term.
            row_term = (grad_out.to(scores_dtype) * out.to(scores_dtype)).sum(dim=-1, keepdim=True)
            grad_query = torch.empty_like(query) if needs_query else None
            grad_key = torch.zeros(key.shape, dtype=scores_dtype, device=key.device) if needs_key else None
            grad_value = torch.zeros(value.shape, dtype=scores_dtype, device=value.device) if needs_value else None
            for start in range(0, queries, rows):
                block = slice(start, start + rows)
                block_query, block_grad_out = query[:, block], grad_out[:, block]
                scores = _bmm_wide(block_query, key.transpose(1, 2))
                probabilities = scores.sub_(log_sum_exp[:, block].unsqueeze(-1)).exp_()
                if grad_value is not None:
                    grad_value += _bmm_wide(probabilities.to(value.dtype).transpose(1, 2), block_grad_out)
                if not (needs_query or needs_key):
                    continue
                grad_probabilities = _bmm_wide(block_grad_out, value.transpose(1, 2))
                grad_scores = probabilities.mul_(grad_probabilities.sub_(row_term[:, block])).to(query.dtype)
                if grad_query is not None:
                    grad_query[:, block] = torch.bmm(grad_scores, key)
                if grad_key is not None:
                    grad_key += _bmm_wide(grad_scores.transpose(1, 2), block_query)
        return (
            grad_query,
            None if grad_key is None else grad_key.to(key.dtype),
            None if grad_value is None else grad_value.to(value.dtype),
        )
