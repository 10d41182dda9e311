"""TorchScript, torch.jit.trace, torch.export and ONNX: each graph computes what the eager model computes.

Every check compares the graph's float32 output with eager mode's within ``TOLERANCE`` (1e-4), on
the models of ``interop_cases.MODELS`` (plain resnet18 alongside) and, block by block, in every mode
with and without a key/value stride. ``wide_heads_blockwise`` forces the CUDA wide-head path
(:func:`~wnlb_zoo.layers.blockwise.blockwise_attention`) on the CPU: eager mode takes it, and every
graph must hold the exact formulation that replaces it there (SDPA), not a wrong copy of it.
The dynamo ONNX exporter takes half a minute per export on a two-core CPU, whatever the model's size,
so it runs once, on a chain of blocks in every mode with convolutions between them (as in a backbone).
"""

import io
import warnings

import pytest
import torch
from interop_cases import CASE_IDS, CASES, IMAGE, MODELS, assert_same, build, open_gates
from torch import nn
from torch.export import Dim

from wnlb_zoo.layers import NON_LOCAL_MODES, WeightedNonLocalBlock

onnxruntime = pytest.importorskip("onnxruntime")

#: A second input shape, other batch, height and width: what a graph with dynamic shapes must also take.
OTHER_IMAGE = (3, 3, 96, 64)
#: Block-level inputs: (B, C, H, W) to capture with and another shape to run.
BLOCK_INPUT, OTHER_BLOCK_INPUT = (2, 16, 6, 5), (3, 16, 7, 9)
BLOCK_CASES = [(mode, kv_stride) for mode in NON_LOCAL_MODES for kv_stride in (1, 2)]
BLOCK_IDS = [f"{mode}-kv{kv_stride}" for mode, kv_stride in BLOCK_CASES]
#: The models, and concatenate mode in a whole model (its search is ONNX's merge sort); every mode runs block by block.
ONNX_CASES = [(name, kwargs) for name, kwargs in CASES if not kwargs or kwargs.get("wnlb_mode") == "concatenate"]
ONNX_IDS = [case_id for case, case_id in zip(CASES, CASE_IDS, strict=True) if case in ONNX_CASES]


@pytest.fixture(autouse=True)
def quiet_exporters():
    """torch.jit's deprecation notices and the exporters' tracer warnings say nothing these tests check."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def block(mode: str, kv_stride: int) -> nn.Module:
    torch.manual_seed(0)
    return open_gates(WeightedNonLocalBlock(16, mode=mode, kv_stride=kv_stride)).eval()


def every_mode_chain() -> nn.Module:
    """A block of every mode, strided and not, each followed by a 3x3 convolution: one (slow) export checks them all.

    The convolutions take what the blocks return, as the next stage of a backbone does: a channels_last
    block output reaching one made the dynamo exporter specialise a dynamic batch to the example's.
    """
    torch.manual_seed(0)
    layers = []
    for mode, kv_stride in BLOCK_CASES:
        layers += [WeightedNonLocalBlock(16, mode=mode, kv_stride=kv_stride), nn.Conv2d(16, 16, 3, padding=1)]
    return open_gates(nn.Sequential(*layers)).eval()


def eager(model: nn.Module, *inputs: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        return [model(x) for x in inputs]


def dynamic_image() -> dict[int, Dim]:
    """Batch, height and width free (height and width multiples of 32, as every backbone's stride)."""
    return {0: Dim("batch", max=64), 2: 32 * Dim("rows", min=2, max=32), 3: 32 * Dim("columns", min=2, max=32)}


def dynamic_block_input() -> dict[int, Dim]:
    """Batch, height and width free; the strided keys need at least 2 x 2 positions (H, W >= 3 at stride 2)."""
    return {0: Dim("batch", max=64), 2: Dim("height", min=3, max=256), 3: Dim("width", min=3, max=256)}


def run_onnx(path, x: torch.Tensor) -> torch.Tensor:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])


def legacy_onnx(model: nn.Module, x: torch.Tensor, path) -> None:
    """The TorchScript-based exporter (``dynamo=False``), every axis but the channels dynamic."""
    axes = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(
        model, (x,), str(path), dynamo=False, opset_version=17, input_names=["x"], output_names=["y"],
        dynamic_axes={"x": axes, "y": axes},
    )  # fmt: skip


def dynamo_onnx(model: nn.Module, x: torch.Tensor, path, dynamic_shapes: dict[int, Dim]) -> None:
    torch.onnx.export(model, (x,), str(path), dynamo=True, dynamic_shapes=(dynamic_shapes,), verbose=False)


# TorchScript ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_torchscript_compiles_saves_loads_and_matches_eager(name):
    model = build(name)
    x = torch.rand(IMAGE)
    scripted = torch.jit.script(model)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    assert_same(eager(torch.jit.load(buffer), x), eager(model, x))


@pytest.mark.parametrize("mode, kv_stride", BLOCK_CASES, ids=BLOCK_IDS)
def test_torchscript_compiles_a_block_in_every_mode_and_matches_eager_at_any_shape(mode, kv_stride):
    module = block(mode, kv_stride)
    inputs = torch.randn(BLOCK_INPUT), torch.randn(OTHER_BLOCK_INPUT)
    assert_same(eager(torch.jit.script(module), *inputs), eager(module, *inputs))


# torch.jit.trace -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_jit_trace_saves_loads_and_matches_eager(name, tmp_path):
    model = build(name)
    x = torch.rand(IMAGE)
    traced = torch.jit.trace(model, x)
    torch.jit.save(traced, tmp_path / "traced.pt")
    assert_same(eager(torch.jit.load(tmp_path / "traced.pt"), x), eager(model, x))


@pytest.mark.parametrize("mode, kv_stride", BLOCK_CASES, ids=BLOCK_IDS)
def test_a_traced_block_saves_and_matches_eager(mode, kv_stride, tmp_path):
    module = block(mode, kv_stride)
    x = torch.randn(BLOCK_INPUT)
    torch.jit.save(torch.jit.trace(module, x), tmp_path / "block.pt")
    assert_same(eager(torch.jit.load(tmp_path / "block.pt"), x), eager(module, x))


def test_jit_trace_of_the_wide_head_path_saves_and_matches_eager(wide_heads_blockwise, tmp_path):
    model = build("wnlb_resnet18")
    x = torch.rand(IMAGE)
    traced = torch.jit.trace(model, x, check_trace=False)
    assert not wide_heads_blockwise, "the traced graph holds the blockwise autograd function"
    torch.jit.save(traced, tmp_path / "traced.pt")
    expected = eager(model, x)
    assert len(wide_heads_blockwise) == 4  # eager mode takes the wide-head path at every block
    assert_same(eager(torch.jit.load(tmp_path / "traced.pt"), x), expected)


# torch.export --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_torch_export_with_dynamic_batch_height_and_width_matches_eager(name):
    model = build(name)
    x, other = torch.rand(IMAGE), torch.rand(OTHER_IMAGE)
    program = torch.export.export(model, (x,), dynamic_shapes=(dynamic_image(),))
    assert_same(eager(program.module(), x, other), eager(model, x, other))


@pytest.mark.parametrize("mode, kv_stride", BLOCK_CASES, ids=BLOCK_IDS)
def test_torch_export_of_a_block_with_dynamic_shapes_matches_eager(mode, kv_stride):
    module = block(mode, kv_stride)
    x, other = torch.randn(BLOCK_INPUT), torch.randn(OTHER_BLOCK_INPUT)
    program = torch.export.export(module, (x,), dynamic_shapes=(dynamic_block_input(),))
    assert_same(eager(program.module(), x, other), eager(module, x, other))


def test_static_torch_export_of_the_wide_head_path_matches_eager(wide_heads_blockwise):
    model = build("wnlb_resnet18")
    x = torch.rand(IMAGE)
    program = torch.export.export(model, (x,))
    assert not wide_heads_blockwise, "the exported program holds the blockwise autograd function"
    assert_same(eager(program.module(), x), eager(model, x))
    assert wide_heads_blockwise


def test_exported_graphs_keep_the_callers_memory_format():
    """Eager blocks return channels_last; an exported one keeps its input's layout (docs/frameworks.md)."""
    module = block("embedded", 1)
    x = torch.randn(BLOCK_INPUT)
    assert eager(module, x)[0].is_contiguous(memory_format=torch.channels_last)
    assert eager(torch.export.export(module, (x,)).module(), x)[0].is_contiguous()


# ONNX ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, kwargs", ONNX_CASES, ids=ONNX_IDS)
def test_legacy_onnx_export_runs_in_onnxruntime_like_eager(name, kwargs, tmp_path):
    """``dynamo=False``, dynamic batch, height and width: concatenate mode included (ONNX has no searchsorted)."""
    model = build(name, **kwargs)
    x, other = torch.rand(IMAGE), torch.rand(OTHER_IMAGE)
    legacy_onnx(model, x, tmp_path / "model.onnx")
    assert_same([run_onnx(tmp_path / "model.onnx", image) for image in (x, other)], eager(model, x, other))


def test_legacy_onnx_export_of_the_wide_head_path_matches_eager(wide_heads_blockwise, tmp_path):
    """The exporter once kept the blockwise function without its in-place updates: 7e-2 off, no error."""
    model = build("wnlb_resnet18")
    x, other = torch.rand(IMAGE), torch.rand(OTHER_IMAGE)
    legacy_onnx(model, x, tmp_path / "model.onnx")
    assert not wide_heads_blockwise, "the ONNX graph was traced through the blockwise autograd function"
    assert_same([run_onnx(tmp_path / "model.onnx", image) for image in (x, other)], eager(model, x, other))
    assert wide_heads_blockwise


def test_dynamo_onnx_export_of_every_mode_and_the_wide_head_path_matches_eager(wide_heads_blockwise, tmp_path):
    """Every mode (concatenate's search as a merge), with and without key/value stride, wide heads forced,
    from a one-input example with a dynamic batch."""
    chain = every_mode_chain()
    x, other = torch.randn(1, *BLOCK_INPUT[1:]), torch.randn(OTHER_BLOCK_INPUT)
    dynamo_onnx(chain, x, tmp_path / "chain.onnx", dynamic_block_input())
    assert not wide_heads_blockwise, "the ONNX graph holds the blockwise autograd function"
    assert_same([run_onnx(tmp_path / "chain.onnx", image) for image in (x, other)], eager(chain, x, other))
    assert wide_heads_blockwise


@pytest.mark.parametrize("mode, kv_stride", BLOCK_CASES, ids=BLOCK_IDS)
def test_legacy_onnx_export_of_a_block_matches_eager(mode, kv_stride, tmp_path):
    module = block(mode, kv_stride)
    x, other = torch.randn(BLOCK_INPUT), torch.randn(OTHER_BLOCK_INPUT)
    legacy_onnx(module, x, tmp_path / "block.onnx")
    assert_same([run_onnx(tmp_path / "block.onnx", image) for image in (x, other)], eager(module, x, other))
