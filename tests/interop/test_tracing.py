"""torch.fx: the wNLB models trace as timm's own do (timm's FX features, torchvision's extractor, symbolic_trace).

The block's attention functions choose a formulation from shapes and device when they run, which
FX cannot trace; like timm's shape-dependent layers they are registered as leaf calls
(``register_notrace_function`` and ``torch.fx.wrap``), so every graph calls them as they are.
"""

import pytest
import timm
import torch
from interop_cases import CASE_IDS, CASES, IMAGE, assert_same, build, open_gates
from torchvision.models.feature_extraction import create_feature_extractor

from wnlb_zoo.layers import NON_LOCAL_MODES, WeightedNonLocalBlock


def last_stage(name: str) -> str:
    return "stages.3" if "convnext" in name else "layer4"


@pytest.mark.parametrize("name, kwargs", CASES, ids=CASE_IDS)
def test_timm_fx_features_match_the_eager_features(name, kwargs):
    traced = open_gates(build(name, features_only=True, feature_cls="fx", **kwargs))
    eager = build(name, features_only=True, **kwargs)
    x = torch.rand(IMAGE)
    with torch.no_grad():
        assert_same(traced(x), eager(x))


@pytest.mark.parametrize("name, kwargs", CASES, ids=CASE_IDS)
def test_torchvision_feature_extractor_matches_forward_features(name, kwargs):
    model = build(name, **kwargs)
    extractor = create_feature_extractor(model, {last_stage(name): "features"})
    x = torch.rand(IMAGE)
    with torch.no_grad():
        assert_same(extractor(x)["features"], model.forward_features(x))


@pytest.mark.parametrize("name, kwargs", CASES, ids=CASE_IDS)
def test_symbolic_trace_matches_eager_forward_and_backward(name, kwargs):
    model = build(name, **kwargs)
    graph = torch.fx.symbolic_trace(model)
    x = torch.rand(IMAGE)
    grads = []
    for module in (model, graph):
        image = x.clone().requires_grad_()
        out = module(image)
        out.square().sum().backward()
        grads.append((out.detach(), image.grad, *(p.grad for p in module.parameters())))
        module.zero_grad()
    assert_same(grads[1], grads[0], tolerance=1e-3)


@pytest.mark.parametrize("kv_stride", [1, 2])
@pytest.mark.parametrize("mode", NON_LOCAL_MODES)
def test_the_block_traces_in_every_mode_and_keeps_its_attention_as_one_call(mode, kv_stride):
    torch.manual_seed(0)
    block = open_gates(WeightedNonLocalBlock(16, mode=mode, kv_stride=kv_stride)).eval()
    graph = torch.fx.symbolic_trace(block)
    x = torch.randn(2, 16, 6, 5)
    assert_same(graph(x), block(x))
    called = {node.target.__name__ for node in graph.graph.nodes if node.op == "call_function"}
    if mode in ("embedded", "gaussian"):
        assert "_softmax_attention" in called
    if mode == "concatenate":
        assert "_concatenate_attention" in called


def test_timm_knows_the_attention_functions_as_notrace():
    from wnlb_zoo.layers import weighted_non_local

    for function in (weighted_non_local._softmax_attention, weighted_non_local._concatenate_attention):
        assert timm.layers.is_notrace_function(function)
