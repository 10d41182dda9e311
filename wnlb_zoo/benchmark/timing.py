"""Wall-clock timing of one step, repeated: CUDA events on a GPU, ``perf_counter`` on the CPU.

Not :class:`torch.utils.benchmark.Timer`, which measures differently from what the reports need:
its ``blocked_autorange`` returns the mean of each block of calls, not every call's time (the
reports give the median and the minimum of the calls), and chooses the number of calls itself
(``wnlb-zoo bench --repeats`` is the user's choice); it runs with one thread unless told
otherwise; and on a GPU it synchronises the host before and after each measurement, where the
CUDA events here let the calls queue back to back, as a training loop does.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TimeStats:
    """Times of the repeated calls of one step, in milliseconds."""

    times_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def min_ms(self) -> float:
        return min(self.times_ms)


def synchronize(device: torch.device) -> None:
    """Wait for the queued work of ``device`` (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(step: Callable[[], object], device: torch.device, repeats: int) -> TimeStats:
    """Run ``step`` ``repeats`` times and time each call.

    On a GPU each call is bracketed by CUDA events and the host synchronises once, after the
    last call, so that host-side gaps do not hide behind the timer; on the CPU each call is
    timed with :func:`time.perf_counter`.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}.")
    if device.type == "cuda":
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeats)]
        for start, end in events:
            start.record()
            step()
            end.record()
        torch.cuda.synchronize(device)
        return TimeStats(tuple(start.elapsed_time(end) for start, end in events))
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        step()
        times.append((time.perf_counter() - begin) * 1000.0)
    return TimeStats(tuple(times))
