"""One measurement: warm up, then time a step and record its peak memory; out-of-memory is a result."""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..engine.peak_memory import PeakMemory
from .timing import time_calls

MIB = 2**20
GIB = 2**30


@dataclass(frozen=True)
class Measurement:
    """Outcome of measuring one step.

    Attributes:
        status: ``'ok'``, ``'out of memory'`` or ``'skipped: <reason>'``.
        median_ms: Median time of one call (``None`` unless ok).
        min_ms: Fastest call.
        peak_mib: Peak memory during the calls (GPU: allocated tensors; CPU: process RSS).
        extra_mib: Peak above the memory in use before the first call (what the step needed).
    """

    status: str
    median_ms: float | None = None
    min_ms: float | None = None
    peak_mib: float | None = None
    extra_mib: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def images_per_s(self, batch: int) -> float | None:
        """Throughput of a step that processes ``batch`` images (``None`` unless ok)."""
        return round(batch * 1000.0 / self.median_ms, 3) if self.ok else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "median_ms": _round(self.median_ms),
            "min_ms": _round(self.min_ms),
            "peak_mib": _round(self.peak_mib),
            "extra_mib": _round(self.extra_mib),
        }


def skipped(reason: str) -> Measurement:
    """A measurement that was not attempted, with the reason."""
    return Measurement(status=f"skipped: {reason}")


def measure(step: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> Measurement:
    """Time ``step`` (median of ``repeats`` calls after ``warmup`` untimed ones) and track its peak memory.

    The peak covers the timed calls only: warm-up calls may allocate one-off workspaces (cuDNN's
    algorithm search under ``cudnn.benchmark`` tries algorithms with workspaces of many GiB) that
    are not what the step needs. A :class:`torch.OutOfMemoryError` (GPU) or a failed CPU
    allocation, in warm-up or timed calls, gives ``'out of memory'``.
    """
    out_of_memory = False
    try:
        for _ in range(warmup):
            step()
        with PeakMemory(device) as memory:
            times = time_calls(step, device, repeats)
    except torch.OutOfMemoryError:
        out_of_memory = True
    except RuntimeError as error:  # CPU allocations fail with a plain RuntimeError
        if "allocate" not in str(error).lower():
            raise
        out_of_memory = True
    if out_of_memory:  # outside the handler, so that the traceback's tensors can be freed
        release_memory(device)
        return Measurement(status="out of memory")
    return Measurement(
        status="ok",
        median_ms=times.median_ms,
        min_ms=times.min_ms,
        peak_mib=None if memory.peak_bytes is None else memory.peak_bytes / MIB,
        extra_mib=None if memory.extra_bytes is None else memory.extra_bytes / MIB,
    )


def combine(measurements: Sequence[Measurement]) -> Measurement:
    """One result for several rounds of a step: the median of their medians, the fastest call and
    the highest peaks; the first failed round's status if any failed."""
    failed = next((m for m in measurements if not m.ok), None)
    if failed is not None:
        return failed
    return Measurement(
        status="ok",
        median_ms=statistics.median(m.median_ms for m in measurements),
        min_ms=min(m.min_ms for m in measurements),
        peak_mib=_highest(m.peak_mib for m in measurements),
        extra_mib=_highest(m.extra_mib for m in measurements),
    )


def release_memory(device: torch.device) -> None:
    """Drop collectable tensors and the GPU allocator's cache between measurements."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _highest(values: Iterable[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
