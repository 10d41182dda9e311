"""Peak memory of the calls made inside a ``with`` block, on a GPU or on the CPU.

* GPU: :func:`torch.cuda.max_memory_allocated` (tensors only, the caching allocator's
  reserve excluded), after resetting the peak.
* CPU: the process's peak resident set size (``VmHWM`` of ``/proc/self/status``), whose high
  water mark Linux resets when ``5`` is written to ``/proc/self/clear_refs``. RSS counts every
  page of the process, so it is an upper bound that includes library code; the growth above the
  resident size at the start of the block is what the measured calls needed. Freed blocks that
  the C allocator keeps (small ones) can be reused without raising the peak, so small growths
  read low; large tensors are mapped and unmapped and are counted fully.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import TracebackType

import torch

from .timing import synchronize

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
    """Context manager: ``peak_bytes`` and ``base_bytes`` of the block it wraps (``None`` if unknown).

    Args:
        device: Device whose memory is tracked.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.base_bytes: int | None = None
        self.peak_bytes: int | None = None

    def __enter__(self) -> PeakMemory:
        synchronize(self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base_bytes = torch.cuda.memory_allocated(self.device)
        elif cpu_peak_tracking_available():
            rss = _status_kib("VmRSS")
            self.base_bytes = None if rss is None else rss * 1024
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is not None:
            return
        synchronize(self.device)
        if self.device.type == "cuda":
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
        elif self.base_bytes is not None:
            peak = _status_kib("VmHWM")
            self.peak_bytes = None if peak is None else peak * 1024

    @property
    def extra_bytes(self) -> int | None:
        """Peak above the memory in use when the block began: what the measured calls needed."""
        if self.peak_bytes is None or self.base_bytes is None:
            return None
        return max(self.peak_bytes - self.base_bytes, 0)
