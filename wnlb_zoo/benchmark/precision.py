"""Numeric precision of a benchmark run: float32, or bfloat16 autocast with float32 weights."""

from __future__ import annotations

import contextlib

import torch

DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16}


def autocast(device: torch.device, dtype: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to bfloat16 for ``'bf16'`` (weights stay float32, as in mixed-precision training)."""
    if dtype not in DTYPES:
        raise ValueError(f"Unknown dtype {dtype!r}; choose one of {tuple(DTYPES)}.")
    return torch.autocast(device.type, dtype=DTYPES[dtype], enabled=dtype != "fp32")
