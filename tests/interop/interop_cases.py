"""The models and configurations of the interop tests, and how they are built and compared.

Every model is built with a fixed seed and its wNLB gates at 0.5, so that each comparison with
eager mode goes through the attention path (a closed gate would pass the input through unchanged).
Plain ``resnet18`` runs alongside: every check must hold for it as it does for the wNLB models.
"""

from __future__ import annotations

from typing import Any

import timm
import torch
from torch import nn

import wnlb_zoo  # noqa: F401  (registers the models)

GATE = 0.5
#: float32 graph against eager: the largest absolute (and relative) difference allowed.
TOLERANCE = 1e-4
#: The input of every check: small, so that the whole module runs in about a minute on two cores.
IMAGE = (2, 3, 64, 64)
#: The models every check runs on: the plain base network and one wNLB model of each family.
MODELS = ("resnet18", "wnlb_resnet18", "wnlb_convnext_tiny")
#: Non-default wNLB configurations, checked on the cheapest wNLB model.
CONFIGURATIONS = (
    {"wnlb_mode": "gaussian"},
    {"wnlb_mode": "dot"},
    {"wnlb_mode": "concatenate"},
    {"wnlb_kv_stride": 2},
)
#: (model name, keyword arguments): every model as it is, then every configuration on wnlb_resnet18.
CASES = [(name, {}) for name in MODELS] + [("wnlb_resnet18", kwargs) for kwargs in CONFIGURATIONS]
CASE_IDS = [name + "".join(f"-{value}" for value in kwargs.values()) for name, kwargs in CASES]


def open_gates(model: nn.Module, gate: float = GATE) -> nn.Module:
    """Set every wNLB gate (every parameter named ``*.gate``, also in FX graph modules) to ``gate``."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(".gate"):
                parameter.fill_(gate)
    return model


def build(name: str, seed: int = 0, **kwargs: Any) -> nn.Module:
    """``timm.create_model(name, **kwargs)`` in eval mode, seeded, gates open."""
    torch.manual_seed(seed)
    return open_gates(timm.create_model(name, **kwargs)).eval()


def assert_same(actual: Any, expected: Any, tolerance: float = TOLERANCE) -> None:
    """Tensors, or lists / tuples / dicts of them, equal within ``tolerance`` (float32 graph vs eager)."""
    torch.testing.assert_close(actual, expected, rtol=tolerance, atol=tolerance)
