"""Fixtures of the integration tests: the wNLB models inside the tools and frameworks that take a timm backbone.

Every model is built from its configuration, offline (no hub, no pretrained weights), with its wNLB
gates set to 0.5, so that the attention path, not only the identity of a closed gate, goes through
each framework.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from wnlb_zoo.engine.checkpoint import save_checkpoint
from wnlb_zoo.engine.detector_spec import DetectorSpec
from wnlb_zoo.layers import WeightedNonLocalBlock

GATE = 0.5


def set_gates(model: nn.Module, gate: float = GATE) -> nn.Module:
    """Set every wNLB gate of ``model`` to ``gate`` (failing when there is none, which would test nothing)."""
    blocks = [module for module in model.modules() if isinstance(module, WeightedNonLocalBlock)]
    assert blocks, "no wNLB block in the model"
    with torch.no_grad():
        for block in blocks:
            block.gate.fill_(gate)
    return model


@pytest.fixture(scope="session")
def open_gates():
    """``open_gates(model)``: every wNLB gate of ``model`` set to 0.5; returns the model."""
    return set_gates


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch):
    """No test here may reach the Hugging Face hub: a lookup fails instead of waiting for the network."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


#: A Mask R-CNN small enough to export and run in seconds on a 2-core CPU: 64-96 px, few proposals.
TINY_DETECTOR = DetectorSpec(
    backbone="wnlb_resnet18",
    num_classes=3,
    class_names=("square", "disc"),
    label_to_category_id={1: 1, 2: 2},
    min_size=64,
    max_size=96,
    detector_kwargs={"rpn_pre_nms_top_n_test": 100, "rpn_post_nms_top_n_test": 30, "box_detections_per_img": 10},
)


@pytest.fixture(scope="session")
def detector_checkpoint():
    """``detector_checkpoint(run_dir, **spec_changes)``: a run directory with one checkpoint of the tiny
    detector (random weights, gates open), as ``wnlb-zoo finetune`` writes it."""

    def write(output, **spec_changes):
        spec = dataclasses.replace(TINY_DETECTOR, **spec_changes)
        torch.manual_seed(0)
        save_checkpoint(output, 1, set_gates(spec.build()), spec, {"config": {"seed": 0}}, is_best=True)
        return output

    return write
