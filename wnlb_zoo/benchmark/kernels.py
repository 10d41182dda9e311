"""Benchmark of the SDPA kernels themselves at the wNLB attention shapes, one backend at a time.

The block's softmax modes are one call of
:func:`~torch.nn.functional.scaled_dot_product_attention` with a single head of size C'; which
kernel PyTorch picks (flash, cuDNN, memory-efficient, math) decides most of the block's cost.
Restricting SDPA to one backend per measurement shows what each would cost, and a backend that
cannot take the shape is reported as unsupported rather than silently replaced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from .measurement import measure, release_memory, skipped
from .precision import DTYPES
from .shapes import stage_shape

KERNEL_BACKENDS: dict[str, SDPBackend] = {
    "flash": SDPBackend.FLASH_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
}
#: What SDPA raises when the allowed backends cannot take the inputs (GPU, CPU wording).
_NO_KERNEL = ("No available kernel", "No viable backend")
#: Matrix-product FLOPs per (query, key, channel) triple: forward 2 products, backward 5 more.
_FLOPS_PER_TRIPLE = {"fwd": 4, "fwd+bwd": 14}


def attention_step(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, training: bool) -> Callable[[], None]:
    """One unscaled single-head SDPA call (and its backward when ``training``)."""
    if not training:

        def step() -> None:
            with torch.no_grad():
                F.scaled_dot_product_attention(query, key, value, scale=1.0)

        return step
    leaves = [t.detach().requires_grad_() for t in (query, key, value)]
    grad = torch.randn_like(query)

    def step() -> None:
        for leaf in leaves:
            leaf.grad = None
        F.scaled_dot_product_attention(*leaves, scale=1.0).backward(grad)

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
    """Time ``embedded``-mode attention (head size C' = C / 2) per backend, stage shape, dtype and pass."""
    records = []
    for size in sizes:
        for stage in stages:
            shape = stage_shape(size, stage)
            head = shape.channels // 2
            for dtype in dtypes:
                generator = torch.Generator(device=device).manual_seed(0)
                qkv = [
                    torch.randn(batch, 1, shape.positions, head, device=device, generator=generator).to(DTYPES[dtype])
                    / head**0.5
                    for _ in range(3)
                ]
                for pass_ in passes:
                    for backend in backends:
                        with sdpa_kernel([KERNEL_BACKENDS[backend]]):
                            step = attention_step(*qkv, training=pass_ == "fwd+bwd")
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
