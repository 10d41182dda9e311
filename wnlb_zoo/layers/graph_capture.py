"""Whether the block runs as itself or is being captured into a graph for another runtime.

The block's fastest paths are written for eager PyTorch and ``torch.compile``: on CUDA, wide heads run
:func:`~wnlb_zoo.layers.blockwise.blockwise_attention` (an ``autograd.Function`` with in-place
updates), ``concatenate`` mode binary-searches with ``torch.searchsorted``, and the output is
channels_last. Graph capture for other runtimes needs exact formulations they can hold instead:

* :func:`is_exporting`: ``torch.export`` (and the dynamo ONNX exporter built on it) and the legacy
  ONNX exporter. ONNX has no ``searchsorted``, the legacy exporter loses the in-place updates of
  the autograd function (its model computes wrong numbers, without an error), and a channels_last
  tensor handed to the next convolution makes ``torch.export`` specialise a dynamic batch to the
  example's batch of 1.
* :func:`is_tracing_or_exporting`: the above, or ``torch.jit.trace``, whose graph cannot hold the
  autograd function (it traces, but cannot be saved).

Both are False in eager mode and under ``torch.compile`` (which compiles the fast paths as they
are), and in TorchScript, whose compiled code has its own guard (``torch.jit.is_scripting()``).
"""

from __future__ import annotations

import torch

#: ``torch.compiler.is_exporting`` exists from PyTorch 2.7 on; before, ``torch.export`` runs the eager paths.
_HAS_COMPILER_IS_EXPORTING = hasattr(torch.compiler, "is_exporting")


def is_exporting() -> bool:
    """True while ``torch.export``, ``torch.onnx.export(dynamo=True)`` or the legacy ONNX exporter capture the model."""
    if torch.jit.is_scripting():
        return False
    return _is_exporting()


def is_tracing_or_exporting() -> bool:
    """True while :func:`is_exporting` or while ``torch.jit.trace`` records the model."""
    if torch.jit.is_scripting():
        return False
    return torch.jit.is_tracing() or _is_exporting()


@torch.jit.unused
def _is_exporting() -> bool:
    return torch.onnx.is_in_onnx_export() or (_HAS_COMPILER_IS_EXPORTING and torch.compiler.is_exporting())
