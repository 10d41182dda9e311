"""``finetune`` refuses what cannot work before it builds anything, and says truthfully what a stopped run kept."""

import importlib
import json

import pytest

from wnlb_zoo.cli.main import main
from wnlb_zoo.engine.run_lock import RunLock
from wnlb_zoo.engine.train_loop import NonFiniteLossError

finetune_module = importlib.import_module("wnlb_zoo.engine.finetune")  # the package exports a function of that name


def run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_negative_lr_is_refused_naming_the_option_and_the_value_given(tmp_path, capsys, tiny_run_args):
    code, _, err = run_cli([*tiny_run_args(tmp_path / "run", 1), "--lr", "-1"], capsys)
    assert code == 2
    assert "--lr must be a positive number, got -1.0" in err and "0.125" not in err  # not the scaled value


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--detector-kwargs", '{"box_score_threshold": 0.1}', "Unknown detector argument(s) box_score_threshold"),
        ("--backbone", "wnlb_resnet81", "Unknown model 'wnlb_resnet81': did you mean wnlb_resnet18"),
        ("--backbone", "resnet18.nope", "Unknown pretrained tag 'nope' for resnet18"),
    ],
)
def test_a_bad_model_option_is_refused_before_the_data_is_read(tmp_path, capsys, tiny_run_args, option, value, message):
    code, out, err = run_cli([*tiny_run_args(tmp_path / "run", 1), option, value], capsys)
    assert code == 2 and out == ""  # nothing printed: not even the data set was built
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("kind", ["file", "read-only"])
def test_an_output_that_cannot_be_written_is_one_line_before_any_work(tmp_path, capsys, tiny_run_args, kind, request):
    if kind == "file":
        output = tmp_path / "a-file"
        output.write_text("")
    else:
        output = request.getfixturevalue("unwritable_dir") / "run"
    code, out, err = run_cli(tiny_run_args(output, 1), capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"wnlb-zoo finetune: error: --output {output}") and err.count("\n") == 1


@pytest.mark.parametrize("resume", [[], ["--resume"]])
def test_an_output_held_by_another_run_is_refused_before_any_work(tmp_path, capsys, tiny_run_args, resume):
    output = tmp_path / "run"
    output.mkdir()
    with RunLock(output):  # stands in for a live run (tests/engine/test_fault_injection.py runs a real one)
        code, out, err = run_cli([*tiny_run_args(output, 1), *resume], capsys)
    assert code == 2 and "Training" not in out
    assert "is in use by another run (PID" in err and "--resume" in err and "another --output" in err
    assert not (output / "args.json").exists()


def fail_at_first_step(error):
    def train_one_epoch(*args, **kwargs):
        raise error

    return train_one_epoch


def test_a_loss_diverging_before_the_first_checkpoint_says_none_was_written(
    tmp_path, capsys, monkeypatch, one_step_run_args
):
    diverged = NonFiniteLossError("Non-finite loss at epoch 1, step 0 (global step 0): loss_mask=nan.")
    monkeypatch.setattr(finetune_module, "train_one_epoch", fail_at_first_step(diverged))
    code, _, err = run_cli(one_step_run_args(tmp_path / "run", 1), capsys)
    assert code == 2 and "loss_mask=nan. No checkpoint was written." in err and "intact" not in err


def test_ctrl_c_before_the_first_checkpoint_says_there_is_nothing_to_resume(
    tmp_path, capsys, monkeypatch, one_step_run_args
):
    monkeypatch.setattr(finetune_module, "train_one_epoch", fail_at_first_step(KeyboardInterrupt()))
    code, _, err = run_cli(one_step_run_args(tmp_path / "run", 1), capsys)
    assert code == 130
    assert err.startswith("wnlb-zoo finetune: interrupted before the first checkpoint") and err.count("\n") == 1
    assert "nothing to resume" in err


@pytest.mark.slow
def test_a_validation_set_without_annotations_shows_no_ap_and_no_best(
    tmp_path, capsys, one_step_run_args, coco_dataset
):
    images, annotations = coco_dataset
    unannotated = tmp_path / "unannotated.json"
    unannotated.write_text(json.dumps({**json.loads(annotations.read_text()), "annotations": []}))
    data = ["--dataset", "coco", "--train-ann", str(annotations), "--train-images", str(images)]
    data += ["--val-ann", str(unannotated), "--val-images", str(images)]
    code, out, err = run_cli(one_step_run_args(tmp_path / "run", 1, *data), capsys)
    assert code == 0, err
    [epoch_line] = [line for line in out.splitlines() if line.startswith("epoch 1/1")]
    assert "box AP -, mask AP -," in epoch_line and "(best)" not in epoch_line
    assert "Nothing exported" in out
