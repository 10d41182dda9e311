"""``wnlb-zoo compare``: dry runs of the shipped study files, and bad study files refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import timm

from wnlb_zoo.cli.main import main

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "compare"


def test_dry_run_lists_the_cells(write_study, two_by_two, tmp_path, capsys):
    study = write_study(two_by_two)
    assert main(["compare", str(study), "--output", str(tmp_path / "out"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "new       plain/seed-0",
        "new       wnlb/seed-0",
        "new       plain/seed-1",
        "new       wnlb/seed-1",
    ]
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


@pytest.mark.parametrize(("name", "cells"), [("synthetic-dark.json", 27), ("pennfudan-lis-gpu.json", 6)])
def test_shipped_study_files(name, cells, tmp_path, capsys):
    spec = json.loads((SCRIPTS / name).read_text())
    assert len(spec["description"]) > 200  # why the design is what it is
    assert main(["compare", str(SCRIPTS / name), "--output", str(tmp_path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == cells and all(line.startswith("new ") for line in lines)


def test_the_cpu_study_design(tmp_path):
    """What issue 14 fixes for the CPU study: >= 3 darkness levels up to the LIS range, >= 3 seeds, 3 backbones."""
    spec = json.loads((SCRIPTS / "synthetic-dark.json").read_text())
    assert spec["axis"]["option"] == "synthetic_dark_ratio" and len(spec["axis"]["values"]) >= 3
    assert spec["axis"]["values"][-1] == [10.0, 100.0] and len(spec["seeds"]) >= 3
    backbones = [(item["backbone"], item.get("backbone_kwargs", {})) for item in spec["configurations"]]
    assert backbones == [("resnet18", {}), ("wnlb_resnet18", {}), ("wnlb_resnet18_keys32", {})]
    preset = timm.create_model("wnlb_resnet18_keys32")  # the cheap key/value strides, by name
    assert [module.kv_stride for module in preset.modules() if hasattr(module, "kv_stride")] == [8, 4, 2, 1]


BAD_STUDIES = [
    ({"configurations": []}, "needs 'configurations'"),
    ({"colour": "blue"}, "unknown key(s) ['colour']"),
    ({"finetune": {"epoch": 1}}, "Unknown finetune option(s) ['epoch']"),
    ({"finetune": {"backbone": "resnet50"}}, "The study sets ['backbone']"),
    ({"configurations": [{"label": "x", "backbone": "resnet181"}]}, "Unknown model 'resnet181'"),
    ({"configurations": [{"label": "x"}]}, "each configuration is {label, backbone"),
    (
        {"configurations": [{"label": "x", "backbone": "resnet18", "backbone_kwargs": [1]}]},
        "backbone_kwargs (an object)",
    ),
    ({"seeds": [0, "one"]}, "'seeds' is a list of whole numbers"),
    ({"seeds": [0, 0]}, "distinct seeds"),
    ({"baseline": "nobody"}, "The baseline 'nobody' is not one of the configurations"),
    ({"axis": {"option": "darkness", "values": [1, 2]}}, "The axis option 'darkness' is not a recipe option"),
    ({"axis": {"values": [1, 2]}}, "'axis' is {option, values"),
    ({"recipe": "no-such-recipe"}, "No recipe 'no-such-recipe'"),
]


@pytest.mark.parametrize(("change", "message"), BAD_STUDIES)
def test_bad_study_files_name_the_problem(change, message, write_study, two_by_two, capsys):
    study = write_study({**two_by_two, **change})
    assert main(["compare", str(study), "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("wnlb-zoo compare: error: ") and message in error, error


def test_unreadable_study_files(tmp_path, two_by_two, capsys):
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[]")
    for name, message in (
        ("broken.json", "is not valid JSON"),
        ("list.json", "must hold a JSON object"),
        ("none.json", "No study file"),
    ):
        assert main(["compare", str(tmp_path / name), "--dry-run"]) == 2
        assert message in capsys.readouterr().err
    good = tmp_path / "good.json"
    good.write_text(json.dumps(two_by_two))
    assert main(["compare", str(good), "--dry-run", "--set", "epochs"]) == 2
    assert "--set takes OPTION=VALUE, got 'epochs'" in capsys.readouterr().err
    # --set with a bad option is checked like the study's own options
    assert main(["compare", str(good), "--dry-run", "--set", "epochz=1"]) == 2
    assert "Unknown finetune option(s) ['epochz']" in capsys.readouterr().err
