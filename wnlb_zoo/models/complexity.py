"""Multiply-accumulates (MACs) of a model's forward pass, attention products included.

The counter is :class:`torch.utils.flop_counter.FlopCounterMode`, run on the ``meta`` device: only
shapes are propagated, so no memory is allocated and no arithmetic is done, whatever the input
size (the test suite counts all seven variants at 800x1333).

Why ``meta``: FlopCounterMode counts an op only if it has a formula for it. On CPU tensors
:func:`torch.nn.functional.scaled_dot_product_attention` runs the fused kernel
``aten._scaled_dot_product_flash_attention_for_cpu``, which has no formula: the count silently
leaves out the attention products ``Q K^T`` and ``A V``, which dominate a wNLB at stride 4. On
``meta`` tensors the same call takes PyTorch's math path, whose two batched matmuls are counted
exactly. ``tests/models/test_complexity.py`` checks the counts against a second, analytic count.

Conventions: one MAC is one multiply-add (FlopCounterMode's FLOPs / 2); convolutions, linear
layers and matrix products are counted, normalisation, activations, pooling and the softmax are
not (as in the usual GMACs tables); batch size 1.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_macs(model: nn.Module, height: int, width: int) -> dict[str, int]:
    """MACs of ``model(image)`` for one ``3 x height x width`` image, per submodule.

    Args:
        model: A model built on the meta device (``with torch.device("meta"): timm.create_model(...)``).
        height: Input height.
        width: Input width.

    Returns:
        MACs keyed by the names of ``model.named_modules()``: ``""`` is the whole forward pass, and
        a submodule's entry covers everything it runs (0 for modules that count nothing).
    """
    devices = {parameter.device.type for parameter in model.parameters()}
    if devices != {"meta"}:
        raise ValueError(
            f"count_macs needs a model on the meta device, got parameters on {sorted(devices)}: on real CPU tensors "
            "FlopCounterMode misses the fused attention kernel. Build the model inside `with torch.device('meta'):`."
        )
    image = torch.empty(1, 3, height, width, device="meta")
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(image)
    finally:
        model.train(was_training)
    flops = counter.get_flop_counts()
    root = type(model).__name__
    macs = {}
    for name, _ in model.named_modules():
        key = f"{root}.{name}" if name else root
        macs[name] = sum(flops.get(key, {}).values()) // 2
    return macs
