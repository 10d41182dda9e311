"""End-to-end fine-tuning runs on CPU: artefacts, evaluation, kill + resume, torchrun, bad input."""

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file
from torchvision.io import decode_png, read_file

from wnlb_zoo.cli.main import main
from wnlb_zoo.engine.figures import DrawingWarning

pytestmark = pytest.mark.slow


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_run_args):
    """One tiny run shared by the tests that only read its artefacts."""
    output = tmp_path_factory.mktemp("run") / "out"
    assert main(tiny_run_args(output)) == 0
    return output


def test_run_writes_every_artefact(finished_run):
    out = finished_run
    for link in ("last", "best"):
        assert (out / link).is_symlink()
        for name in ("model.safetensors", "training_state.pt", "detector.json", "run_config.json"):
            assert (out / link / name).is_file(), (link, name)
    assert json.loads((out / "args.json").read_text())["epochs"] == 2
    # Each epoch seeds the random generators afresh, so the checkpoint holds no RNG state for resume to restore.
    training_state = torch.load(out / "last" / "training_state.pt", weights_only=True)
    assert set(training_state) == {"optimizer", "scheduler", "scaler", "epoch", "best_metric", "config"}
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    for record in records:
        assert {"loss", "loss_mask", "lr", "img_per_s", "peak_memory_mib"} <= record["train"].keys()
        assert {"AP", "AP50", "AP75", "APs", "APm", "APl", "per_class"} <= record["segm"].keys()
        assert record["num_images"] == record["num_predictions"] == 5
    header = (out / "log.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "train/loss", "bbox/AP", "segm/per_class/disc"} <= set(header)
    assert len(list((out / "checkpoints").iterdir())) <= 2  # only what last/best point at
    backbone = out / "export" / "backbone"
    assert {p.name for p in backbone.iterdir()} >= {"model.safetensors", "config.json", "README.md"}
    assert (out / "export" / "detector" / "model.safetensors").is_file()
    # What a user looks at: the curves of both epochs and the contact sheet of validation predictions.
    for picture in ("curves.png", "predictions.png"):
        assert min(decode_png(read_file(str(out / picture))).shape[-2:]) > 100, picture  # a decodable picture


def test_evaluate_reproduces_the_logged_ap(finished_run, capsys, tmp_path):
    metrics_file = tmp_path / "metrics.json"
    code, out, _ = run_cli(
        ["evaluate", "--checkpoint", str(finished_run / "last"), "--output", str(metrics_file)], capsys
    )
    assert code == 0 and "mask" in out
    logged = json.loads((finished_run / "log.jsonl").read_text().splitlines()[-1])
    metrics = json.loads(metrics_file.read_text())
    for iou_type in ("bbox", "segm"):
        assert metrics[iou_type]["AP"] == pytest.approx(logged[iou_type]["AP"], abs=1e-9)
        assert metrics[iou_type]["AP50"] == pytest.approx(logged[iou_type]["AP50"], abs=1e-9)


def test_exported_backbone_loads_as_a_timm_feature_extractor(finished_run):
    import timm

    import wnlb_zoo  # noqa: F401

    exported = finished_run / "export" / "backbone"
    body = timm.create_model(f"local-dir:{exported}", pretrained=True, features_only=True, out_indices=(1, 2, 3, 4))
    detector_state = load_file(str(finished_run / "best" / "model.safetensors"))
    torch.testing.assert_close(body.layer4[2].theta.weight, detector_state["backbone.body.layer4.2.theta.weight"])


def test_weights_export_of_a_run_writes_backbone_and_detector(finished_run, capsys, tmp_path):
    code, out, err = run_cli(["weights", "export", "--run", str(finished_run), "--out", str(tmp_path / "x")], capsys)
    assert code == 0, err
    assert (tmp_path / "x" / "backbone" / "config.json").is_file()
    assert (tmp_path / "x" / "detector" / "detector.json").is_file()
    from wnlb_zoo.detection import maskrcnn
    from wnlb_zoo.engine import DetectorSpec

    spec = DetectorSpec.load(tmp_path / "x" / "detector")
    model = maskrcnn(
        spec.backbone, num_classes=spec.num_classes, backbone_kwargs=spec.backbone_kwargs,
        weights=tmp_path / "x" / "detector" / "model.safetensors", **spec.detector_kwargs,
    )  # fmt: skip
    assert model.roi_heads.box_predictor.cls_score.out_features == spec.num_classes


def test_predict_writes_a_picture_and_detections_per_image(finished_run, capsys, tmp_path):
    from wnlb_zoo.data import SyntheticDarkScenes, write_image

    images = []
    for index in range(2):
        path = tmp_path / f"scene_{index}.png"
        write_image(SyntheticDarkScenes(2, image_size=(64, 80), seed=9)[index][0], path)
        images.append(str(path))
    out = tmp_path / "pred"
    code, _, _ = run_cli(
        ["predict", "--checkpoint", str(finished_run), *images, "--output", str(out), "--score-threshold", "0"], capsys
    )
    assert code == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["scene_0.png.pred.png", "scene_1.png.pred.png"]
    detections = json.loads((out / "detections.json").read_text())
    assert {d["image_id"] for d in detections} <= {0, 1}
    assert all({"bbox", "score", "category_id", "segmentation", "file_name"} <= d.keys() for d in detections)


def test_killed_run_resumes_to_the_same_weights(tmp_path, tiny_run_args):
    uninterrupted = tmp_path / "full"
    assert main(tiny_run_args(uninterrupted, 2, "--no-export")) == 0

    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "wnlb_zoo", *tiny_run_args(killed, 2, "--no-export")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed / "last").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert killed.joinpath("last").resolve().name == "epoch_001"

    assert main(tiny_run_args(killed, 2, "--no-export", "--resume")) == 0
    expected = load_file(str(uninterrupted / "last" / "model.safetensors"))
    actual = load_file(str(killed / "last" / "model.safetensors"))
    assert expected.keys() == actual.keys()
    assert all(torch.equal(expected[key], actual[key]) for key in expected)
    assert [json.loads(line)["epoch"] for line in (killed / "log.jsonl").read_text().splitlines()] == [1, 2]


def test_torchrun_two_processes_evaluate_each_image_once(tmp_path, tiny_run_args):
    output = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "wnlb_zoo", *tiny_run_args(output, 1, "--no-export"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((output / "log.jsonl").read_text().splitlines()[-1])
    assert record["num_images"] == 5 and record["num_predictions"] == 5


def test_torchrun_ranks_all_refuse_an_output_held_by_another_run(tmp_path, one_step_run_args):
    """Rank 0 alone checks the lock; the other rank must get its refusal rather than wait for it for ever."""
    from wnlb_zoo.engine.run_lock import RunLock

    output = tmp_path / "held"
    output.mkdir()
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "wnlb_zoo", *one_step_run_args(output, 1, "--no-export"),
    ]  # fmt: skip
    with RunLock(output):
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.count("wnlb-zoo finetune: error: ") == 2, result.stderr[-3000:]  # one line per rank
    assert result.stderr.count("is in use by another run (PID") == 2


def test_existing_run_is_kept_and_truncated_checkpoint_is_named(finished_run, capsys, tmp_path, tiny_run_args):
    code, _, err = run_cli(tiny_run_args(finished_run), capsys)
    assert code == 2 and "already holds a training run" in err

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("model.safetensors", "detector.json", "training_state.pt", "run_config.json"):
        (broken / name).write_bytes((finished_run / "last" / name).read_bytes())
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    code, _, err = run_cli(tiny_run_args(tmp_path / "resumed", 3, "--resume", str(broken)), capsys)
    assert code == 2 and "model.safetensors" in err and "corrupt or truncated" in err


def test_another_runs_checkpoint_is_not_resumed_into_a_run(finished_run, capsys, tmp_path, tiny_run_args):
    other = tmp_path / "other"
    shutil.copytree(finished_run, other, symlinks=True)

    def run_files():  # the run lock's file (its holder's pid and time) aside
        return {path: path.read_bytes() for path in other.rglob("*") if path.is_file() and path.name != ".lock"}

    before = run_files()
    code, out, err = run_cli(tiny_run_args(other, 3, "--resume", str(finished_run / "last")), capsys)
    assert code == 2 and f"{other} holds a training run of its own" in err and "new, empty --output" in err
    assert "Training" not in out
    assert run_files() == before


def test_coco_dataset_with_empty_images_and_crowd_regions(tmp_path, capsys, tiny_run_args, coco_dataset):
    images, annotations = coco_dataset
    output = tmp_path / "out"
    data = ["--dataset", "coco", "--train-ann", str(annotations), "--train-images", str(images)]
    data += ["--val-ann", str(annotations), "--val-images", str(images)]
    code, _, err = run_cli(tiny_run_args(output, 1, "--no-export", *data), capsys)
    assert code == 0, err
    record = json.loads((output / "log.jsonl").read_text().splitlines()[-1])
    assert record["num_images"] == 6

    (images / "image_002.png").write_bytes(b"not a png")
    code, _, err = run_cli(tiny_run_args(tmp_path / "out2", 1, "--no-export", *data), capsys)
    assert code == 2 and "image_002.png" in err


def test_resume_of_a_pretrained_run_takes_its_settings_from_the_run(tmp_path, monkeypatch, capsys, tiny_run_args):
    """A run that froze part of an ImageNet-initialised backbone resumes with only --output --resume."""
    import timm
    from safetensors.torch import save_file

    mirrored = tmp_path / "mirror" / "wnlb_resnet18.a1_in1k"
    mirrored.mkdir(parents=True)
    save_file(timm.create_model("resnet18").state_dict(), str(mirrored / "model.safetensors"))
    monkeypatch.setenv("WNLB_ZOO_WEIGHTS", str(tmp_path / "mirror"))
    output = tmp_path / "run"
    assert main(tiny_run_args(output, 1, "--no-export", "--pretrained")) == 0
    args = json.loads((output / "args.json").read_text())

    code, out, err = run_cli(["finetune", "--output", str(output), "--resume", "--epochs", "2", "--no-export"], capsys)
    assert code == 0, err
    assert "ignoring the differing option(s)" not in out
    assert json.loads((output / "args.json").read_text()) == args  # the original record is kept
    assert [json.loads(line)["epoch"] for line in (output / "log.jsonl").read_text().splitlines()] == [1, 2]
    spec = json.loads((output / "last" / "detector.json").read_text())
    assert spec["frozen_batch_norm"] is True and spec["trainable_backbone_layers"] == 3


def test_channels_last_run_trains_to_the_same_weights(tmp_path, tiny_run_args):
    """``--channels-last`` changes the memory layout, not the training: same weights up to rounding."""
    plain, channels_last = tmp_path / "plain", tmp_path / "channels_last"
    assert main(tiny_run_args(plain, 1, "--no-export")) == 0
    assert main(tiny_run_args(channels_last, 1, "--no-export", "--channels-last")) == 0
    assert json.loads((channels_last / "args.json").read_text())["channels_last"] is True
    expected = load_file(str(plain / "last" / "model.safetensors"))
    actual = load_file(str(channels_last / "last" / "model.safetensors"))
    assert expected.keys() == actual.keys()
    changed = [key for key in expected if not torch.equal(expected[key], actual[key])]
    assert changed, "no weight differs at all: the option did not reach the model"
    # Rounding differs between the layouts' kernels; the training itself must not.
    difference = torch.cat([(actual[key].double() - expected[key].double()).flatten() for key in expected])
    weights = torch.cat([expected[key].double().flatten() for key in expected])
    assert difference.norm() < 1e-3 * weights.norm()
    losses = [json.loads((run / "log.jsonl").read_text())["train"]["loss"] for run in (plain, channels_last)]
    assert losses[1] == pytest.approx(losses[0], rel=1e-3)


def test_torchrun_ranks_all_stop_when_rank_0_cannot_save_a_checkpoint(tmp_path, one_step_run_args):
    """Rank 0 alone writes checkpoints; when that fails (here: ``checkpoints`` is a file; in life, a full disk)
    the other rank stops with the same error, rather than wait at the next collective until a launcher
    that watches its ranks (torchrun does, ``srun`` may not) kills it."""
    output = tmp_path / "blocked"
    output.mkdir()
    (output / "checkpoints").write_text("not a folder")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "wnlb_zoo", *one_step_run_args(output, 1, "--no-export"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.count("FileExistsError") >= 2, result.stderr[-3000:]  # raised on rank 0, re-raised on rank 1


def test_coco_training_data_alone_holds_out_a_split_that_evaluate_reproduces(
    tmp_path, capsys, monkeypatch, tiny_run_args, coco_dataset
):
    images, annotations = coco_dataset
    output = tmp_path / "run"
    data = ["--dataset", "coco", "--train-ann", str(annotations), "--train-images", str(images)]
    # A picture that cannot be drawn is a warning: the run still finishes and keeps its checkpoints.
    engine = importlib.import_module("wnlb_zoo.engine.finetune")  # the module, not the function of that name
    monkeypatch.setattr(engine, "draw_contact_sheet", lambda *args, **kwargs: 1 / 0)
    with pytest.warns(DrawingWarning, match="predictions.png: ZeroDivisionError"):
        code, out, err = run_cli(tiny_run_args(output, 1, "--no-export", *data, "--val-fraction", "0.34"), capsys)
    assert code == 0, err
    assert f"Training loss and AP per epoch: {output / 'curves.png'}" in out
    assert "predictions.png" not in out and not (output / "predictions.png").exists()
    logged = json.loads((output / "log.jsonl").read_text().splitlines()[-1])
    assert logged["num_images"] == 2  # 0.34 of 6 images held out
    recorded = json.loads((output / "last" / "run_config.json").read_text())["data"]
    assert recorded["val_fraction"] == 0.34 and len(recorded["val_split_sha256"]) == 64

    code, out, err = run_cli(["evaluate", "--checkpoint", str(output), "--workers", "0"], capsys)
    assert code == 0, err
    assert "the coco validation split (0.34 held out, seed 0)" in out
    evaluated = json.loads((output / "last" / "evaluation.json").read_text())
    assert evaluated["num_images"] == 2
    assert evaluated["segm"]["AP"] == pytest.approx(logged["segm"]["AP"], abs=1e-9)

    content = json.loads(annotations.read_text())
    kept = content["images"][:-1]  # the data changed since the run: one image fewer
    kept_ids = {image["id"] for image in kept}
    content = {
        **content,
        "images": kept,
        "annotations": [a for a in content["annotations"] if a["image_id"] in kept_ids],
    }
    annotations.write_text(json.dumps(content))
    code, _, err = run_cli(["evaluate", "--checkpoint", str(output), "--workers", "0"], capsys)
    assert code == 2 and "holds other images than the run held out" in err
