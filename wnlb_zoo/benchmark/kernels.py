"""Benchmark of the attention kernels themselves at the wNLB attention shapes, one at a time.

The block's softmax modes are one unscaled single-head attention of width C'; which kernel runs it
decides most of the block's cost. Each SDPA backend (flash, cuDNN, memory-efficient) is measured
with SDPA restricted to it, so a backend that cannot take the shape is reported as unsupported
rather than silently replaced; ``blockwise`` is the block's own path for heads wider than
:data:`~wnlb_zoo.layers.FUSED_HEAD_LIMIT` (:func:`~wnlb_zoo.layers.blockwise_attention`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..layers import blockwise_attention
from .measurement import measure, release_memory, skipped
from .precision import DTYPES
from .shapes import stage_shape

Attention = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _sdpa_only(backend: SDPBackend) -> Attention:
    """Unscaled single-head SDPA of (B, N, D) tensors with SDPA restricted to ``backend``."""

    def attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        with sdpa_kernel([backend]):
            heads = (t.unsqueeze(1) for t in (query, key, value))
            return F.scaled_dot_product_attention(*heads, scale=1.0).squeeze(1)

    return attend


KERNEL_BACKENDS: dict[str, Attention] = {
    "flash": _sdpa_only(SDPBackend.FLASH_ATTENTION),
    "cudnn": _sdpa_only(SDPBackend.CUDNN_ATTENTION),
    "efficient": _sdpa_only(SDPBackend.EFFICIENT_ATTENTION),
    "blockwise": blockwise_attention,
}
#: What SDPA raises when the allowed backends cannot take the inputs (GPU, CPU wording).
_NO_KERNEL = ("No available kernel", "No viable backend")
#: Matrix-product FLOPs per (query, key, channel) triple: forward 2 products, backward 5 more.
_FLOPS_PER_TRIPLE = {"fwd": 4, "fwd+bwd": 14}


def attention_step(
    attend: Attention, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, training: bool
) -> Callable[[], None]:
    """One call of ``attend`` on (B, N, D) tensors (and its backward when ``training``)."""
    if not training:

        def step() -> None:
            with torch.no_grad():
                attend(query, key, value)

        return step
    leaves = [t.detach().requires_grad_() for t in (query, key, value)]
    grad = torch.randn_like(query)

    def step() -> None:
        for leaf in leaves:
            leaf.grad = None
        attend(*leaves).backward(grad)

    return step


def run_kernel_benchmark(
    device: torch.device,
    sizes: Sequence[tuple[int, int]],
    stages: Sequence[int],
    dtypes: Sequence[str],
    passes: Sequence[str],
    backends: Sequence[str] = tuple(KERNEL_BACKENDS),
    batch: int = 1,
    warmup: int = 1,
    repeats: int = 3,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Time ``embedded``-mode attention (head size C' = C / 2) per kernel, stage shape, dtype and pass."""
    records = []
    for size in sizes:
        for stage in stages:
            shape = stage_shape(size, stage)
            head = shape.channels // 2
            for dtype in dtypes:
                generator = torch.Generator(device=device).manual_seed(0)
                qkv = [
                    torch.randn(batch, shape.positions, head, device=device, generator=generator).to(DTYPES[dtype])
                    / head**0.5
                    for _ in range(3)
                ]
                for pass_ in passes:
                    for backend in backends:
                        step = attention_step(KERNEL_BACKENDS[backend], *qkv, training=pass_ == "fwd+bwd")
                        try:
                            result = measure(step, device, warmup, repeats)
                        except RuntimeError as error:
                            if not any(text in str(error) for text in _NO_KERNEL):
                                raise
                            result = skipped("backend does not support this shape/dtype/device")
                        del step
                        release_memory(device)
                        flops = _FLOPS_PER_TRIPLE[pass_] * batch * shape.positions**2 * head
                        record = {
                            "part": "kernels",
                            "input_size": f"{size[0]}x{size[1]}",
                            "stage": stage,
                            "positions": shape.positions,
                            "head_dim": head,
                            "dtype": dtype,
                            "pass": pass_,
                            "backend": backend,
                            "batch": batch,
                            "tflops": round(flops / result.median_ms / 1e9, 1) if result.ok else None,
                            **result.as_dict(),
                        }
                        records.append(record)
                        if on_record is not None:
                            on_record(record)
    return records
