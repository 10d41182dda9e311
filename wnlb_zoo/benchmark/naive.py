"""The textbook, materialised non-local block: the baseline the fast block is measured against.

It builds the N_q x N_k pairwise matrix f explicitly and multiplies it with g, as the original
non-local network code does, with the same parameters as a
:class:`~wnlb_zoo.layers.WeightedNonLocalBlock`. For ``concatenate`` the pair score
``W_f [theta_i, phi_j]`` is formed as ``a . theta_i + b . phi_j`` (W_f is linear), which
materialises one N x N matrix; stacking the pairs themselves would need 2C' such matrices.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..layers import WeightedNonLocalBlock

#: N x N float32 matrices alive at the peak: scores and f forward; their gradients backward too.
_MATRICES_FORWARD = 2
_MATRICES_BACKWARD = 4


def naive_block_forward(block: WeightedNonLocalBlock, x: torch.Tensor) -> torch.Tensor:
    """``block(x)`` computed through the explicit (B, N_q, N_k) pairwise matrix."""
    batch, channels, height, width = x.shape

    def embed(conv: torch.nn.Conv2d, pool: bool) -> torch.Tensor:
        out = F.conv2d(x, conv.weight, conv.bias)
        if pool and block.kv_stride > 1:
            out = F.max_pool2d(out, block.kv_stride, block.kv_stride, ceil_mode=True)
        return out.flatten(2)  # (B, C', N)

    value = embed(block.g, pool=True)
    if block.mode == "gaussian":
        query = x.flatten(2)
        key = x if block.kv_stride == 1 else F.max_pool2d(x, block.kv_stride, block.kv_stride, ceil_mode=True)
        key = key.flatten(2)
    else:
        query, key = embed(block.theta, pool=False), embed(block.phi, pool=True)
    n_keys = key.shape[-1]

    if block.mode in ("embedded", "gaussian"):
        f = torch.softmax(query.transpose(1, 2) @ key, dim=-1)
    elif block.mode == "dot":
        f = query.transpose(1, 2) @ key / n_keys
    else:
        weight = block.pair_score.weight.flatten().to(query.dtype)
        query_score = torch.einsum("bcn,c->bn", query, weight[: block.inter_channels])
        key_score = torch.einsum("bcn,c->bn", key, weight[block.inter_channels :])
        f = F.relu(query_score.unsqueeze(-1) + key_score.unsqueeze(-2)) / n_keys

    y = (f @ value.transpose(1, 2).to(f.dtype)).transpose(1, 2).reshape(batch, -1, height, width)
    out = block.norm(F.conv2d(y.to(block.w_z.weight.dtype), block.w_z.weight, block.w_z.bias)).to(x.dtype)
    gate = block.gate.to(x.dtype)
    return (1 - gate) * x + gate * out


def naive_pairwise_bytes(batch: int, n_query: int, n_key: int, backward: bool) -> int:
    """Estimated bytes of the pairwise matrices the naive block holds at its peak (float32 count).

    Used to skip a measurement that could not fit (on the CPU, trying would swap or be killed).
    """
    matrices = _MATRICES_BACKWARD if backward else _MATRICES_FORWARD
    return matrices * batch * n_query * n_key * 4
