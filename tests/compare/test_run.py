"""Comparisons run end to end on tiny synthetic scenes: a 2 x 2 matrix killed mid-way and finished by a rerun,
a half-finished cell resumed, and the GPU study file run at tiny scale on a fake Penn-Fudan folder."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wnlb_zoo.cli.main import main

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "compare"
CELLS = ["plain/seed-0", "wnlb/seed-0", "plain/seed-1", "wnlb/seed-1"]


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, f"the comparison ended (exit {process.returncode}) before {path} appeared"
        assert time.monotonic() < deadline, f"no {path} after {seconds} s"
        time.sleep(0.05)


def _results(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output / "results.jsonl").read_text().splitlines()]


def test_killed_matrix_reruns_only_the_missing_cells(write_study, two_by_two, tmp_path, capsys):
    study = write_study(two_by_two)
    output = tmp_path / "out"
    command = [sys.executable, "-m", "wnlb_zoo", "compare", str(study), "--output", str(output)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = output / "cells" / CELLS[0] / "result.json"
    try:
        _wait_for(output / "results.jsonl", process)  # written after each finished cell
    finally:
        process.send_signal(signal.SIGKILL)  # no chance to clean up: its running worker dies with it
        out, _ = process.communicate()
    assert "0 of 4 cells finished; running 4." in out
    kept = first.read_bytes()
    assert [record["cell"] for record in _results(output)] == CELLS[:1]

    assert main(["compare", str(study), "--output", str(output), "--dry-run"]) == 0
    states = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert states[0] == "finished" and "finished" not in states[1:]

    assert main(["compare", str(study), "--output", str(output)]) == 0  # the killed worker left no lock behind
    out = capsys.readouterr().out
    assert "1 of 4 cells finished; running 3." in out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("[")] == CELLS[1:]
    assert first.read_bytes() == kept  # the finished cell was not run again
    records = _results(output)
    assert [record["cell"] for record in records] == CELLS
    for record in records:
        assert {"bbox", "segm", "epoch"} <= record["final"].keys() and record["final"]["epoch"] == 1
        assert record["train_img_per_s"] > 0 and record["peak_memory_mib"] > 0 and record["wall_s"] > 0
        assert record["environment"]["device"] and record["environment"]["torch"]
        assert record["config"]["seed"] == record["seed"] and record["config"]["backbone"] == record["backbone"]
        assert record["command"].startswith("wnlb-zoo compare")
    assert records[1]["backbone_kwargs"] == {"wnlb_stages": [4]}
    table = (output / "summary.md").read_text()
    assert "| wnlb | 2 |" in table and "box AP gain vs plain [95% CI]" in table
    assert (output / "summary.csv").read_text().count("\n") == 3
    for name in ("ap_by_point.png", "gain_vs_cost.png"):
        with Image.open(output / name) as image:
            image.load()
            assert image.format == "PNG"

    # A half-finished cell (its run has a checkpoint, but no result yet) resumes from it: nothing retrained.
    resumed = output / "cells" / CELLS[3]
    (resumed / "result.json").unlink()
    log_before = (resumed / "log.jsonl").read_text()
    assert main(["compare", str(study), "--output", str(output), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[3] == f"partial   {CELLS[3]}"
    assert main(["compare", str(study), "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "3 of 4 cells finished; running 1." in out and "(resuming its killed run)" in out
    assert "Resuming from" in (resumed / "cell.log").read_text()
    assert (resumed / "log.jsonl").read_text() == log_before
    record = _results(output)[3]
    assert record["resumed"] is True and record["cell"] == CELLS[3]

    # Rerunning a finished comparison runs nothing; one with another recipe in the same folder is refused.
    assert main(["compare", str(study), "--output", str(output)]) == 0
    assert "4 of 4 cells finished; running 0." in capsys.readouterr().out
    assert main(["compare", str(study), "--output", str(output), "--set", "lr=0.01"]) == 2
    assert "holds a run of another recipe (differing: lr)" in capsys.readouterr().err


def test_a_failing_cell_is_reported_and_the_rest_written(write_study, two_by_two, tmp_path, capsys):
    spec = {**two_by_two, "configurations": two_by_two["configurations"][:1], "seeds": [0]}
    spec["finetune"] = {**spec["finetune"], "dataset": "pennfudan", "root": str(tmp_path / "nowhere")}
    output = tmp_path / "out"
    assert main(["compare", str(write_study(spec)), "--output", str(output)]) == 1
    error = capsys.readouterr().err
    assert "1 cell(s) failed; rerun the same command to retry them" in error and "plain/seed-0: see" in error
    assert "PNGImages" in (output / "cells" / "plain" / "seed-0" / "cell.log").read_text()
    assert (output / "results.jsonl").read_text() == "" and (output / "summary.md").is_file()
    assert not (output / "ap_by_point.png").exists()  # nothing to draw yet


def _fake_penn_fudan(root: Path, images: int = 4) -> Path:
    """A Penn-Fudan folder of ``images`` 64 x 80 pictures of one or two pedestrians each."""
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    generator = np.random.default_rng(0)
    for index in range(images):
        picture = generator.integers(0, 255, (64, 80, 3), dtype=np.uint8)
        instances = np.zeros((64, 80), dtype=np.uint8)
        for k in range(1 + index % 2):
            instances[8 + 4 * k : 56, 10 + 30 * k : 28 + 30 * k] = k + 1
            picture[instances == k + 1] = (200, 180, 160)
        Image.fromarray(picture).save(root / "PNGImages" / f"FudanPed{index:05d}.png")
        Image.fromarray(instances).save(root / "PedMasks" / f"FudanPed{index:05d}_mask.png")
    return root


def test_gpu_study_file_runs_at_tiny_scale_on_cpu(tmp_path, capsys):
    """scripts/compare/pennfudan-lis-gpu.json as written, shrunk by --set to seconds on a CPU: one seed, 64 px."""
    root = _fake_penn_fudan(tmp_path / "PennFudanPed")
    tiny = {
        "root": str(root), "val_fraction": 0.25, "min_size": 64, "max_size": 64, "epochs": 1, "batch_size": 2,
        "amp": None, "device": "cpu", "workers": 0, "eval_batch_size": 1, "trainable_backbone_layers": 0,
        "detector_kwargs": {
            "rpn_post_nms_top_n_train": 50, "rpn_post_nms_top_n_test": 20, "box_batch_size_per_image": 16,
        },
    }  # fmt: skip
    overrides = [f"--set={name}={json.dumps(value)}" for name, value in tiny.items()]
    output = tmp_path / "out"
    args = ["compare", str(SCRIPTS / "pennfudan-lis-gpu.json"), "--output", str(output), "--seeds", "0", *overrides]
    assert main(args) == 0, capsys.readouterr()
    records = _results(output)
    assert [record["label"] for record in records] == ["resnet50", "wnlb_resnet50", "wnlb_resnet50_keys32"]
    for record in records:
        assert record["dataset"] == "pennfudan" and record["config"]["data"]["darken"] == "all"
        assert record["config"]["pretrained"] is False
    assert "| wnlb_resnet50_keys32 | 1 |" in (output / "summary.md").read_text()
