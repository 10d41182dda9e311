"""``wnlb-zoo bench`` end to end on a tiny CPU configuration, and the pieces it is made of."""

import datetime
import json
import subprocess
import sys

import pytest
import torch

from wnlb_zoo.benchmark import (
    detection,
    format_report,
    measure,
    naive_block_forward,
    naive_pairwise_bytes,
    parse_size,
    stage_shape,
    training_speed_ratios,
)
from wnlb_zoo.benchmark.measurement import Measurement, combine
from wnlb_zoo.benchmark.suite import BenchmarkConfig, run_benchmark
from wnlb_zoo.layers import NON_LOCAL_MODES, WeightedNonLocalBlock

TINY = [
    "--device", "cpu", "--threads", "1", "--warmup", "0", "--repeats", "1",
    "--sizes", "32x48", "--stages", "3", "4", "--modes", "embedded", "concatenate", "--dtypes", "fp32",
    "--max-naive-gib", "2e-7",
    "--backbones", "wnlb_resnet18", "--backbone-size", "32x48", "--backbone-batch", "1", "--backbone-dtypes", "fp32",
    "--detectors", "wnlb_resnet18", "--detection-size", "64x64", "--detection-batch", "1", "--detection-dtype", "fp32",
    "--rounds", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench") / "result.json"
    command = [sys.executable, "-m", "wnlb_zoo", "bench", *TINY, "--output", str(output)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return json.loads(output.read_text()), completed.stdout


def test_json_records_device_versions_and_command(tiny_run):
    result, _ = tiny_run
    env = result["environment"]
    assert env["device_type"] == "cpu" and env["device"]
    for key in ("torch", "torchvision", "timm", "python"):
        assert env[key]
    assert "cuda" in env and "load_average_1_5_15" in env
    assert env["cpu_threads"] == 1
    assert "bench" in env["command"] and "--sizes 32x48" in env["command"]
    datetime.datetime.fromisoformat(env["date"])
    assert result["config"]["layer_sizes"] == [[32, 48]]


def test_every_part_is_measured(tiny_run):
    result, stdout = tiny_run
    records = result["records"]
    layer = [r for r in records if r["part"] == "layer"]
    assert len(layer) == 2 * 2 * 2 * 2  # stages x modes x passes x implementations
    ours = [r for r in layer if r["implementation"] == "ours"]
    assert all(r["status"] == "ok" and r["median_ms"] > 0 for r in ours)
    backbone = {r["model"]: r for r in records if r["part"] == "backbone"}
    assert set(backbone) == {"resnet18", "wnlb_resnet18"}
    assert all(r["images_per_s"] > 0 for r in backbone.values())
    kernels = {(r["stage"], r["pass"], r["backend"]): r for r in records if r["part"] == "kernels"}
    assert len(kernels) == 2 * 2 * 4  # stages x passes x kernels
    assert kernels[(3, "fwd+bwd", "flash")]["status"] == "ok"  # the CPU has a flash kernel ...
    assert kernels[(3, "fwd", "cudnn")]["status"].startswith("skipped: backend does not support")  # ... no cuDNN one
    assert kernels[(3, "fwd+bwd", "blockwise")]["status"] == "ok"
    detection = {r["phase"]: r for r in records if r["part"] == "detection"}
    assert set(detection) == {"train", "inference"} and detection["inference"]["batch"] == 1
    assert detection["train"]["rounds"] == 2 and len(detection["train"]["round_medians_ms"]) == 2
    assert "wnlb_resnet18" in stdout and "images_per_s" not in stdout  # a table, not a dump


def test_naive_cases_beyond_the_memory_limit_are_skipped_with_the_need(tiny_run):
    result, _ = tiny_run
    layer = [r for r in result["records"] if r["part"] == "layer"]
    naive = {(r["stage"], r["pass"]): r["status"] for r in layer if r["implementation"] == "naive"}
    assert naive[(4, "fwd")] == "ok"  # 2 positions: 32 bytes
    assert naive[(3, "fwd")].startswith("skipped: would need")  # 8 positions: 512 bytes > 2e-7 GiB


def test_parse_size_and_stage_shapes():
    assert parse_size("800x1333") == (800, 1333)
    with pytest.raises(ValueError, match="HxW"):
        parse_size("800")
    stride4 = stage_shape((800, 1333), 1)
    assert (stride4.channels, stride4.height, stride4.width, stride4.positions) == (256, 200, 336, 67_200)
    lis = stage_shape((400, 600), 1)  # the LIS size, padded to 416x608 as the detector batches it
    assert (lis.height, lis.width) == (104, 152)
    assert stage_shape((400, 600), 4).channels == 2048


def test_naive_estimate_is_the_pairwise_matrix_at_stride_4():
    gib = naive_pairwise_bytes(1, 67_200, 67_200, backward=False) / 2**30
    assert 33 < gib < 34  # two 16.8 GiB float32 matrices per image


@pytest.mark.parametrize("kv_stride", [1, 2])
@pytest.mark.parametrize("mode", NON_LOCAL_MODES)
def test_naive_block_matches_ours_in_float64(mode, kv_stride):
    torch.manual_seed(0)
    block = WeightedNonLocalBlock(12, mode=mode, kv_stride=kv_stride).double()
    with torch.no_grad():
        block.gate.fill_(0.4)
    x = torch.randn(2, 12, 5, 7, dtype=torch.float64)
    torch.testing.assert_close(naive_block_forward(block, x), block(x), rtol=1e-9, atol=1e-9)


def test_out_of_memory_is_a_result_not_a_crash():
    def step():
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    result = measure(step, torch.device("cpu"), warmup=0, repeats=1)
    assert result.status == "out of memory" and result.median_ms is None


def test_detection_rounds_alternate_the_order_and_take_the_median_of_round_medians(monkeypatch):
    """Rounds run forward, backward, forward...; each detector is on the device only while measured."""
    turns = []

    def trainee(name, image_size, channels_last):
        model = torch.nn.Linear(2, 2)
        return detection._Trainee(
            name, detection.benchmarked_detector(name), model, torch.optim.SGD(model.parameters())
        )

    def fake_measure(step, device, warmup, repeats):
        name = turns[-1]
        return Measurement("ok", median_ms=float(10 * len(turns)), min_ms=1.0, peak_mib=float(len(name)))

    original_on = detection._Trainee.on

    def logging_on(self, device):
        turns.append(self.name)
        return original_on(self, device)

    monkeypatch.setattr(detection, "_trainee", trainee)
    monkeypatch.setattr(detection, "measure", fake_measure)
    monkeypatch.setattr(detection._Trainee, "on", logging_on)
    records = detection.run_detection_benchmark(
        torch.device("cpu"), ["a", "bb"], (32, 32), batch=1, dtype="fp32", rounds=3, inference=False
    )
    assert turns == ["a", "bb", "bb", "a", "a", "bb"]
    first, second = records
    assert first["round_medians_ms"] == [10.0, 40.0, 50.0] and first["median_ms"] == 40.0
    assert second["round_medians_ms"] == [20.0, 30.0, 60.0] and second["median_ms"] == 30.0
    assert first["min_ms"] == 1.0 and second["peak_mib"] == 2.0


def test_bad_rounds_and_repeated_detectors_are_refused_up_front():
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        run_benchmark(BenchmarkConfig(parts=("layer", "detection"), detection_rounds=0), ["bench"])
    with pytest.raises(ValueError, match="listed more than once"):
        detection.run_detection_benchmark(torch.device("cpu"), ["resnet18", "resnet18"], (32, 32), 1, "fp32")


def test_combined_rounds_keep_a_failure():
    ok = Measurement("ok", median_ms=5.0, min_ms=4.0)
    assert combine([ok, Measurement("out of memory"), ok]).status == "out of memory"
    assert combine([ok, Measurement("ok", median_ms=7.0, min_ms=3.0)]).min_ms == 3.0


def test_speed_ratios_divide_each_training_rate_by_the_plain_backbones():
    def train(name, rate, status="ok"):
        return {"part": "detection", "phase": "train", "detector": name, "images_per_s": rate, "status": status}

    records = [train("torchvision_resnet50", 50.0), train("resnet50", 40.0), train("wnlb_resnet50", 10.0)]
    records.append(train("wnlb_resnet50_kv2", None, status="out of memory"))
    ratios = {row["detector"]: row["ratio"] for row in training_speed_ratios(records)}
    assert ratios == {"torchvision_resnet50": 1.25, "wnlb_resnet50": 0.25}  # the failed run has none
    assert training_speed_ratios(records[:1]) == []  # no plain backbone measured: nothing to divide by


def test_report_renders_markdown(tiny_run):
    result, _ = tiny_run
    text = format_report(result, markdown=True)
    assert "| model | input |" in text and "command: " in text
