"""``evaluate`` and ``predict``: outputs checked before any work, inputs never overwritten, classes matched."""

from __future__ import annotations

import json

import pytest
from torchvision.io import decode_image

from wnlb_zoo.cli import evaluate as evaluate_command
from wnlb_zoo.cli.main import main
from wnlb_zoo.data import SyntheticDarkScenes, write_image


@pytest.fixture
def no_evaluation(monkeypatch):
    """Replace the evaluation by a recorder: the tests check that it is never reached."""
    calls = []
    monkeypatch.setattr(evaluate_command, "evaluate", lambda *args, **kwargs: calls.append(args))
    return calls


def _scene(path, index: int = 0) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(SyntheticDarkScenes(2, image_size=(64, 64), seed=9)[index][0], path)
    return path.read_bytes()


def _predict(checkpoint, images, output) -> int:
    argv = ["predict", "--checkpoint", str(checkpoint), *map(str, images), "--output", str(output)]
    return main([*argv, "--device", "cpu", "--score-threshold", "0"])


def test_predict_into_the_images_folder_keeps_every_input(trained_checkpoint, tmp_path):
    inputs = {tmp_path / "a.png": None, tmp_path / "a.jpg": None}  # same stem, different formats
    for index, path in enumerate(inputs):
        inputs[path] = _scene(path, index)
    assert _predict(trained_checkpoint, inputs, tmp_path) == 0
    assert all(path.read_bytes() == content for path, content in inputs.items())
    assert sorted(p.name for p in tmp_path.glob("*.pred.png")) == ["a.jpg.pred.png", "a.png.pred.png"]
    for path in inputs:  # each input got a picture of its own: a decodable image of its size
        assert decode_image(str(path.with_name(path.name + ".pred.png"))).shape[-2:] == (64, 64)
    detections = json.loads((tmp_path / "detections.json").read_text())
    assert isinstance(detections, list) and {d["file_name"] for d in detections} <= {"a.png", "a.jpg"}


def test_predict_refuses_names_that_collide(trained_checkpoint, tmp_path, capsys):
    content = _scene(tmp_path / "x.png")
    _scene(tmp_path / "x.png.pred.png")  # the picture x.png would get is itself an input
    assert _predict(trained_checkpoint, [tmp_path / "x.png", tmp_path / "x.png.pred.png"], tmp_path) == 2
    assert "would overwrite the input image" in capsys.readouterr().err
    assert (tmp_path / "x.png").read_bytes() == content and not (tmp_path / "detections.json").exists()

    same_names = [tmp_path / "one" / "a.png", tmp_path / "two" / "a.png"]
    for path in same_names:
        _scene(path)
    assert _predict(trained_checkpoint, same_names, tmp_path / "out") == 2
    assert "share a file name" in capsys.readouterr().err


def test_predict_refuses_unusable_outputs_before_loading(trained_checkpoint, tmp_path, unwritable_dir, capsys):
    image = tmp_path / "a.png"
    _scene(image)
    taken = tmp_path / "taken"
    taken.write_text("a file")
    assert _predict(trained_checkpoint, [image], taken) == 2
    assert f"--output {taken} is a file, not a folder" in capsys.readouterr().err

    assert _predict(trained_checkpoint, [image], unwritable_dir / "pred") == 2
    assert f"--output {unwritable_dir / 'pred'} cannot be written" in capsys.readouterr().err

    (tmp_path / "out" / "a.png.pred.png").mkdir(parents=True)
    assert _predict(trained_checkpoint, [image], tmp_path / "out") == 2
    assert "a.png.pred.png is a folder" in capsys.readouterr().err

    assert _predict(trained_checkpoint, [tmp_path / "absent.png"], tmp_path / "out") == 2
    assert "1 image file(s) not found, e.g." in capsys.readouterr().err


def test_evaluate_refuses_unusable_output_before_evaluating(trained_checkpoint, unwritable_dir, no_evaluation, capsys):
    argv = ["evaluate", "--checkpoint", str(trained_checkpoint), "--device", "cpu", "--workers", "0"]
    assert main([*argv, "--output", str(unwritable_dir / "metrics.json")]) == 2
    assert f"--output {unwritable_dir} cannot be written" in capsys.readouterr().err
    assert main([*argv, "--output", str(trained_checkpoint)]) == 2
    assert f"--output {trained_checkpoint} is a folder" in capsys.readouterr().err
    assert no_evaluation == []


def test_evaluate_refuses_data_with_other_classes(trained_checkpoint, no_evaluation, capsys):
    other_data = ["--dataset", "synthetic", "--synthetic-classes", "2", "--synthetic-size", "64"]
    argv = ["evaluate", "--checkpoint", str(trained_checkpoint), "--device", "cpu", "--workers", "0", *other_data]
    assert main(argv) == 2
    message = capsys.readouterr().err
    assert "detects the classes ['disc', 'square', 'triangle'] but the synthetic data has ['disc', 'square']" in (
        message
    )
    assert no_evaluation == [] and not (trained_checkpoint / "evaluation.json").exists()


def test_evaluate_writes_the_metrics_file(trained_checkpoint, tmp_path):
    output = tmp_path / "metrics" / "evaluation.json"
    argv = ["evaluate", "--checkpoint", str(trained_checkpoint), "--device", "cpu", "--workers", "0"]
    assert main([*argv, "--output", str(output)]) == 0
    assert json.loads(output.read_text())


def test_evaluate_scores_a_coco_test_set_given_alone_at_another_size(
    trained_checkpoint, coco_dataset, tmp_path, capsys
):
    images, annotations = coco_dataset
    output = tmp_path / "test.json"
    test_set = ["--dataset", "coco", "--val-ann", str(annotations), "--val-images", str(images)]
    resizing = ["--min-size", "48", "--max-size", "48", "--interpolation", "nearest"]
    argv = ["evaluate", "--checkpoint", str(trained_checkpoint), "--device", "cpu", "--workers", "0"]
    assert main([*argv, *test_set, *resizing, "--output", str(output)]) == 0  # no training files given
    assert f"on {annotations}, min size 48, max size 48, nearest" in capsys.readouterr().out
    record = json.loads(output.read_text())
    assert record["num_images"] == 6 and "AP" in record["segm"]
    assert (record["min_size"], record["max_size"], record["interpolation"]) == (48, 48, "nearest")
    assert record["data"]["val_ann"] == str(annotations) and record["data"]["train_ann"] is None

    own = json.loads((trained_checkpoint / "detector.json").read_text())
    assert main([*argv, *test_set, "--output", str(output)]) == 0  # without overrides: the run's own sizes
    assert json.loads(output.read_text())["min_size"] == own["min_size"]


def test_evaluate_refuses_data_files_without_their_dataset_kind(
    trained_checkpoint, coco_dataset, no_evaluation, capsys
):
    images, annotations = coco_dataset
    argv = ["evaluate", "--checkpoint", str(trained_checkpoint), "--device", "cpu"]
    assert main([*argv, "--val-ann", str(annotations), "--val-images", str(images)]) == 2
    assert "--val-ann --val-images given without --dataset" in capsys.readouterr().err
    assert main([*argv, "--dataset", "coco"]) == 2
    assert "--dataset coco needs --val-ann --val-images" in capsys.readouterr().err
    assert no_evaluation == []


def test_commands_take_the_weights_file_a_user_points_at(trained_checkpoint, tmp_path, capsys):
    image = tmp_path / "a.png"
    _scene(image)
    weights = trained_checkpoint / "model.safetensors"
    assert _predict(weights, [image], tmp_path / "out") == 0
    assert (tmp_path / "out" / "a.png.pred.png").is_file()
    assert _predict(tmp_path / "a.png", [image], tmp_path / "out") == 2
    assert "is not a checkpoint. A checkpoint is a run directory" in capsys.readouterr().err
