"""``wnlb-zoo weights``: export -> list -> verify -> publish --dry-run, offline, in temporary directories."""

import json
import shutil

import pytest
import timm
import torch
from huggingface_hub import constants
from safetensors.torch import save_file

from wnlb_zoo.cli import weights as weights_cli
from wnlb_zoo.cli.main import main
from wnlb_zoo.weights import publish as publish_module

NAME = "wnlb_resnet18.cli_test"
REPO = "wnlb-test/wnlb-resnet18-cli"
METRICS = {"detector": "Mask R-CNN R18-FPN", "dataset": "LIS", "split": "test", "box_ap": 10.0, "box_ap50": 20.0}


def export_args(checkpoint, out, metrics=None, tag=True):
    args = ["weights", "export", "--model", "wnlb_resnet18", "--checkpoint", str(checkpoint)]
    args += ["--model-kwargs", '{"wnlb_stages": [2, 3, 4]}', "--out", str(out)]
    if tag:
        args += ["--tag", "cli_test", "--repo-id", REPO, "--dataset", "LIS", "--recipe", "wnlb-zoo train --x"]
        args += ["--license", "apache-2.0", "--date", "2025-03-01"]
        args += ["--metrics", json.dumps(metrics or {**METRICS, "box_ap75": 9.0})]
    return args


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = timm.create_model("wnlb_resnet18", num_classes=0, wnlb_stages=(2, 3, 4))
    path = tmp_path_factory.mktemp("checkpoint") / "backbone.safetensors"
    save_file(model.state_dict(), str(path))
    return path


@pytest.fixture(scope="module")
def exported(checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "out"
    assert main(export_args(checkpoint, out)) == 0
    return out


@pytest.fixture(autouse=True)
def environment(tmp_path, monkeypatch):
    """Empty manifest, empty offline HF cache, no mirror."""
    (tmp_path / "manifest").mkdir()
    (tmp_path / "hf-cache").mkdir()
    monkeypatch.setenv("WNLB_ZOO_MANIFEST", str(tmp_path / "manifest"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("WNLB_ZOO_WEIGHTS", raising=False)
    return tmp_path


def publish_record(exported, environment, monkeypatch, mirror=True):
    shutil.copy(exported / f"{NAME}.json", environment / "manifest")
    if mirror:
        (environment / "mirror" / NAME).mkdir(parents=True)
        shutil.copy(exported / "model.safetensors", environment / "mirror" / NAME)
        monkeypatch.setenv("WNLB_ZOO_WEIGHTS", str(environment / "mirror"))
    return environment / "mirror" / NAME / "model.safetensors"


def test_export_writes_the_hub_layout_and_the_record(exported):
    names = sorted(p.name for p in exported.iterdir())
    assert names == ["README.md", "config.json", "model.safetensors", f"{NAME}.json"]
    record = json.loads((exported / f"{NAME}.json").read_text())
    assert record["model_kwargs"]["wnlb_stages"] == [2, 3, 4]
    assert record["metrics"][0]["box_ap75"] == 9.0


def test_list_on_an_empty_manifest(capsys):
    assert main(["weights", "list"]) == 0
    assert "No published weights" in capsys.readouterr().out
    assert main(["weights", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_list_shows_records_and_where_they_are(exported, environment, monkeypatch, capsys):
    publish_record(exported, environment, monkeypatch)
    assert main(["weights", "list"]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith(NAME)][0]
    assert REPO in row and "box AP 10.0 (LIS test)" in row and row.endswith("mirror")
    assert main(["weights", "list", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["name"] == NAME and entry["local"][0]["source"] == "mirror"


def test_verify_reports_ok_mismatch_and_absent(exported, environment, monkeypatch, capsys):
    mirrored = publish_record(exported, environment, monkeypatch)
    assert main(["weights", "verify", "--all"]) == 0
    assert capsys.readouterr().out.startswith(f"ok        {NAME}  mirror")

    data = bytearray(mirrored.read_bytes())
    data[-100] ^= 0xFF
    mirrored.write_bytes(data)
    assert main(["weights", "verify", NAME]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "expected" in out and "actual" in out

    mirrored.unlink()
    assert main(["weights", "verify", NAME]) == 1
    assert "absent" in capsys.readouterr().out
    assert main(["weights", "verify", "wnlb_resnet18.nope"]) == 2
    assert "No manifest record 'wnlb_resnet18.nope'" in capsys.readouterr().err


def test_publish_dry_run_prints_the_upload_and_touches_no_hub(exported, monkeypatch, capsys):
    monkeypatch.setattr(publish_module, "HfApi", None)  # any hub call would fail
    assert main(["weights", "publish", str(exported), "--repo-id", REPO, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"repo {REPO}" in out and "Dry run: nothing was uploaded." in out
    for name in ("README.md", "config.json", "model.safetensors", f"{NAME}.json"):
        assert name in out
    assert main(["weights", "publish", str(exported), "--repo-id", "org/other", "--dry-run"]) == 2
    assert "not org/other" in capsys.readouterr().err


def test_export_errors_name_the_missing_metric_and_the_nonempty_directory(checkpoint, exported, tmp_path, capsys):
    assert main(export_args(checkpoint, tmp_path / "out", metrics=METRICS)) == 2
    assert "--metrics: field 'metrics[0].box_ap75': missing" in capsys.readouterr().err
    assert main(export_args(checkpoint, exported)) == 2
    assert "not empty" in capsys.readouterr().err


def test_export_without_tag_writes_no_record(checkpoint, tmp_path, capsys):
    assert main(export_args(checkpoint, tmp_path / "out", tag=False)) == 0
    assert "No manifest record (no --tag)" in capsys.readouterr().out
    assert not list((tmp_path / "out").glob("wnlb_resnet18.*.json"))


def test_pull_offline_without_cache_says_what_to_do(exported, environment, monkeypatch, capsys):
    publish_record(exported, environment, monkeypatch, mirror=False)
    assert main(["weights", "pull", NAME, "--mirror", str(environment / "mirror")]) == 2
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().err


def test_invalid_records_are_listed_and_fail_verify(exported, environment, monkeypatch, capsys):
    publish_record(exported, environment, monkeypatch)
    torn = environment / "manifest" / "wnlb_resnet18.torn.json"
    torn.write_text('{"manifest_version": 1, "archi')
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert f"INVALID   {torn}: not a readable JSON file" in out
    assert any(line.startswith(NAME) for line in out.splitlines())  # the valid record is still listed
    assert main(["weights", "list", "--json"]) == 0
    entries = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert entries["wnlb_resnet18.torn"]["file"] == str(torn)
    assert "not a readable JSON" in entries["wnlb_resnet18.torn"]["invalid"]
    assert entries[NAME]["local"][0]["source"] == "mirror"
    assert main(["weights", "verify", "--all"]) == 1
    out = capsys.readouterr().out
    assert f"INVALID   {torn}" in out and f"ok        {NAME}" in out
    assert main(["weights", "verify", "wnlb_resnet18.torn"]) == 1


def test_export_of_a_random_checkpoint_is_one_message(tmp_path, capsys):
    random_file = tmp_path / "random.pth"
    random_file.write_bytes(bytes(range(256)) * 8)
    assert main(export_args(random_file, tmp_path / "out", tag=False)) == 2
    err = capsys.readouterr().err
    assert f"error: {random_file} is not a valid PyTorch checkpoint" in err and "Traceback" not in err


def test_export_refuses_an_unusable_out_before_any_work(tmp_path, unwritable_dir, monkeypatch, capsys):
    def no_work(*args, **kwargs):
        raise AssertionError("the run was exported although --out cannot be written")

    monkeypatch.setattr(weights_cli, "export_training_checkpoint", no_work)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for out, problem in [(a_file, "is a file, not a folder"), (unwritable_dir / "out", "cannot be written")]:
        assert main(["weights", "export", "--run", str(tmp_path / "run"), "--out", str(out)]) == 2
        assert f"--out {out} {problem}" in capsys.readouterr().err
