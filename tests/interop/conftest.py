"""Fixtures of the interop tests: the backbones as FX, TorchScript, torch.export and ONNX take them.

The models, configurations and comparisons are in ``interop_cases.py``.
"""

from __future__ import annotations

import pytest
import torch

from wnlb_zoo.layers import weighted_non_local


@pytest.fixture
def wide_heads_blockwise(monkeypatch):
    """Route every head through the blockwise (CUDA wide-head) path on the CPU too; counts its calls.

    On a GPU only heads wider than the fused kernels take it; forcing every head here lets a CPU test
    see what the exporters and tracers make of that path (eager mode must call it, graphs must not).
    """
    calls = []
    original = weighted_non_local.blockwise_attention

    def counted(*args: torch.Tensor) -> torch.Tensor:
        calls.append(args[0].shape)
        return original(*args)

    monkeypatch.setattr(weighted_non_local, "uses_blockwise", lambda device, head: True)
    monkeypatch.setattr(weighted_non_local, "blockwise_attention", counted)
    return calls
