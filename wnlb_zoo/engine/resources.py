"""Peak memory of the training process, on the device that does the work."""

from __future__ import annotations

import resource
import sys

import torch


def peak_memory_mib(device: torch.device) -> float:
    """Peak CUDA memory allocated by tensors on a GPU; peak resident set size of the process on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux
