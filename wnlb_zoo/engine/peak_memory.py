"""Peak memory of the calls made inside a ``with`` block, on a GPU or on the CPU.

One measurement for the training loop (each epoch's peak) and the benchmarks (each step's):

* GPU: :func:`torch.cuda.max_memory_allocated` (tensors only, the caching allocator's
  reserve excluded), after resetting the peak.
* CPU on Linux: the process's peak resident set size (``VmHWM`` of ``/proc/self/status``), whose
  high water mark Linux resets when ``5`` is written to ``/proc/self/clear_refs``. RSS counts every
  page of the process, so it is an upper bound that includes library code; the growth above the
  resident size at the start of the block is what the measured calls needed. Freed blocks that
  the C allocator keeps (small ones) can be reused without raising the peak, so small growths
  read low; large tensors are mapped and unmapped and are counted fully.
* CPU elsewhere (no resettable high water mark): the process's peak RSS since it started
  (``getrusage``), with no base, so :attr:`PeakMemory.extra_bytes` is unknown.
"""

from __future__ import annotations

import re
import resource
import sys
from pathlib import Path
from types import TracebackType

import torch

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def cpu_peak_tracking_available() -> bool:
    """Whether this process can reset and read its peak RSS (Linux with a writable clear_refs)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


class PeakMemory:
    """``peak_bytes`` and ``base_bytes`` (``None`` if unknown) between :meth:`start` and :meth:`stop`,
    or of the ``with`` block it wraps.

    Args:
        device: Device whose memory is tracked.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.base_bytes: int | None = None
        self.peak_bytes: int | None = None

    def start(self) -> PeakMemory:
        """Reset the peak (where the device allows) and note the memory in use now."""
        _synchronize(self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base_bytes = torch.cuda.memory_allocated(self.device)
        elif cpu_peak_tracking_available():
            rss = _status_kib("VmRSS")
            self.base_bytes = None if rss is None else rss * 1024
        return self

    def stop(self) -> None:
        """Read the peak since :meth:`start`."""
        _synchronize(self.device)
        if self.device.type == "cuda":
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
        elif self.base_bytes is not None:
            peak = _status_kib("VmHWM")
            self.peak_bytes = None if peak is None else peak * 1024
        else:
            self.peak_bytes = _lifetime_peak_rss_bytes()

    def __enter__(self) -> PeakMemory:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.stop()

    @property
    def extra_bytes(self) -> int | None:
        """Peak above the memory in use when the block began: what the measured calls needed."""
        if self.peak_bytes is None or self.base_bytes is None:
            return None
        return max(self.peak_bytes - self.base_bytes, 0)

    @property
    def peak_mib(self) -> float | None:
        return None if self.peak_bytes is None else self.peak_bytes / 2**20


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _lifetime_peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux
