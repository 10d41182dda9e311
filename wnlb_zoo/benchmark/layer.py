"""Benchmark of one wNLB: the materialised textbook block against ours, per mode and stage shape."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..layers import WeightedNonLocalBlock
from .measurement import GIB, Measurement, measure, release_memory, skipped
from .naive import naive_block_forward, naive_pairwise_bytes
from .precision import DTYPES, autocast
from .shapes import StageShape, stage_shape

IMPLEMENTATIONS = ("naive", "ours")
PASSES = ("fwd", "fwd+bwd")


def layer_step(
    block: WeightedNonLocalBlock, x: torch.Tensor, implementation: str, training: bool, dtype: str
) -> Callable[[], None]:
    """One call of the block (forward, or forward and backward into x and the weights)."""
    forward = block if implementation == "ours" else lambda t: naive_block_forward(block, t)
    device = x.device
    if not training:

        def step() -> None:
            with torch.no_grad(), autocast(device, dtype):
                forward(x)

        return step
    leaf = x.detach().requires_grad_()
    grad = torch.randn_like(x)

    def step() -> None:
        block.zero_grad(set_to_none=True)
        leaf.grad = None
        with autocast(device, dtype):
            out = forward(leaf)
        out.backward(grad)

    return step


def layer_record(
    shape: StageShape,
    size: tuple[int, int],
    mode: str,
    dtype: str,
    pass_: str,
    implementation: str,
    batch: int,
    result: Measurement,
) -> dict[str, Any]:
    return {
        "part": "layer",
        "input_size": f"{size[0]}x{size[1]}",
        "stage": shape.stage,
        "stride": shape.stride,
        "channels": shape.channels,
        "feature": f"{shape.height}x{shape.width}",
        "positions": shape.positions,
        "mode": mode,
        "dtype": dtype,
        "pass": pass_,
        "implementation": implementation,
        "batch": batch,
        **result.as_dict(),
    }


def run_layer_benchmark(
    device: torch.device,
    sizes: Sequence[tuple[int, int]],
    stages: Sequence[int],
    modes: Sequence[str],
    dtypes: Sequence[str],
    passes: Sequence[str],
    implementations: Sequence[str] = IMPLEMENTATIONS,
    batch: int = 1,
    warmup: int = 1,
    repeats: int = 3,
    max_naive_bytes: int | None = None,
    channels_last: bool = False,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Measure every combination; naive cases estimated above ``max_naive_bytes`` are skipped.

    Returns one record per measurement (see :func:`layer_record`), in the order measured.
    """
    records = []
    for size in sizes:
        for stage in stages:
            shape = stage_shape(size, stage)
            for mode in modes:
                torch.manual_seed(0)
                block = WeightedNonLocalBlock(shape.channels, mode=mode).to(device)
                with torch.no_grad():
                    block.gate.fill_(0.5)
                x = torch.randn(batch, shape.channels, shape.height, shape.width, device=device)
                if channels_last:
                    x = x.to(memory_format=torch.channels_last)
                for dtype in dtypes:
                    inputs = x.to(DTYPES[dtype])
                    for pass_ in passes:
                        training = pass_ == "fwd+bwd"
                        for implementation in implementations:
                            need = naive_pairwise_bytes(batch, shape.positions, shape.positions, training)
                            if implementation == "naive" and max_naive_bytes is not None and need > max_naive_bytes:
                                result = skipped(f"would need {need / GIB:.3g} GiB")
                            else:
                                step = layer_step(block, inputs, implementation, training, dtype)
                                result = measure(step, device, warmup, repeats)
                                del step
                            release_memory(device)
                            record = layer_record(shape, size, mode, dtype, pass_, implementation, batch, result)
                            records.append(record)
                            if on_record is not None:
                                on_record(record)
    return records
