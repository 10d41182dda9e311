"""``wnlb-zoo export onnx``: a fine-tuned Mask R-CNN exported whole and checked in onnxruntime."""

from __future__ import annotations

import math
import re

import onnxruntime
import pytest
import torch

from wnlb_zoo.cli.main import main
from wnlb_zoo.data import SyntheticDarkScenes, write_image
from wnlb_zoo.engine import onnx_export
from wnlb_zoo.engine.checkpoint import load_detector
from wnlb_zoo.engine.onnx_export import INPUT_NAME, OUTPUT_NAMES, ImageCheck, compare_detections


@pytest.mark.slow
def test_exported_detector_gives_pytorchs_detections_on_any_image_shape(tmp_path, capsys, detector_checkpoint):
    run = detector_checkpoint(tmp_path / "run")
    output = tmp_path / "deploy" / "detector.onnx"
    assert main(["export", "onnx", "--checkpoint", str(run), "--output", str(output)]) == 0
    report = capsys.readouterr().out
    verdicts = re.findall(r"^synthetic (\d+x\d+) .* (same|DIFFERENT)$", report, re.MULTILINE)
    assert verdicts == [("64x96", "same"), ("96x64", "same")]  # the detector's own size, landscape and portrait
    assert output.is_file() and [path.name for path in output.parent.iterdir()] == ["detector.onnx"]

    # A third shape, read from a file as a user's would be, checked here independently of the command.
    image_file = tmp_path / "square.png"
    write_image(SyntheticDarkScenes(1, image_size=(80, 80), seed=5)[0][0], image_file)
    model, _, _ = load_detector(run)
    checks = onnx_export.check_onnx(model.eval(), output, [("square", onnx_export.read_image(image_file))])
    assert checks[0].torch_detections > 0 and checks[0].passed, checks
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    assert [node.name for node in session.get_inputs()] == [INPUT_NAME]
    assert [node.name for node in session.get_outputs()] == list(OUTPUT_NAMES)


def test_a_failed_check_writes_nothing(tmp_path, capsys, monkeypatch, detector_checkpoint):
    run = detector_checkpoint(tmp_path / "run")
    output = tmp_path / "detector.onnx"
    output.write_bytes(b"an earlier export")
    monkeypatch.setattr(onnx_export, "export_onnx", lambda model, example, path, opset: path.write_bytes(b"onnx"))
    differing = ImageCheck("synthetic 64x96", (64, 96), 3, 2, False, math.nan, math.nan, math.nan)
    monkeypatch.setattr(onnx_export, "check_onnx", lambda model, path, samples: [differing])
    assert main(["export", "onnx", "--checkpoint", str(run), "--output", str(output)]) == 2
    captured = capsys.readouterr()
    assert "DIFFERENT" in captured.out and "3/2" in captured.out
    assert "nothing was written" in captured.err and "--no-check" in captured.err
    assert output.read_bytes() == b"an earlier export"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["detector.onnx", "run"]  # no temporary file left


def test_the_output_is_checked_before_the_checkpoint_is_read(tmp_path, unwritable_dir, capsys):
    code = main(["export", "onnx", "--checkpoint", str(tmp_path / "no-run"), "--output", f"{unwritable_dir}/m.onnx"])
    assert code == 2 and "--output" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--opset", "13"], "choose one from 14"), (["--image", "missing.png"], "not found")],
)
def test_unusable_options_are_refused(tmp_path, capsys, arguments, message, detector_checkpoint):
    run = detector_checkpoint(tmp_path / "run")
    assert main(["export", "onnx", "--checkpoint", str(run), "--output", str(tmp_path / "m.onnx"), *arguments]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "m.onnx").exists()


def test_a_nearest_resizing_detector_is_refused_with_the_reason(tmp_path, capsys, detector_checkpoint):
    run = detector_checkpoint(tmp_path / "run", interpolation="nearest")
    assert main(["export", "onnx", "--checkpoint", str(run), "--output", str(tmp_path / "m.onnx")]) == 2
    assert "only detectors that resize with 'bilinear'" in capsys.readouterr().err


def _detections(boxes, labels, scores):
    boxes = torch.tensor(boxes, dtype=torch.float32)
    masks = torch.stack([torch.full((1, 4, 4), score) for score in scores])
    return {"boxes": boxes, "labels": torch.tensor(labels), "scores": torch.tensor(scores), "masks": masks}


def test_detections_are_paired_by_box_so_near_ties_may_come_in_another_order():
    expected = _detections([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 2], [0.50001, 0.5])
    swapped = _detections([[20, 20, 30, 30], [0, 0, 10, 10.001]], [2, 1], [0.5, 0.50001])
    check = compare_detections("image", (40, 40), expected, swapped)
    assert check.passed and check.box_error == pytest.approx(1e-3, abs=1e-5)


@pytest.mark.parametrize(
    "exported",
    [
        _detections([[0, 0, 10, 10], [20, 20, 30, 31]], [1, 2], [0.50001, 0.5]),  # a box 1 px off
        _detections([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 1], [0.50001, 0.5]),  # another label
        _detections([[0, 0, 10, 10]], [1], [0.50001]),  # a detection missing
        _detections([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 2], [0.50001, 0.4]),  # another score
    ],
)
def test_differing_detections_fail_the_check(exported):
    expected = _detections([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 2], [0.50001, 0.5])
    assert not compare_detections("image", (40, 40), expected, exported).passed
