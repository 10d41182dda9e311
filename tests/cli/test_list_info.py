"""``wnlb-zoo list`` and ``wnlb-zoo info``: JSON that matches the registry, tables, suggestions for unknown names."""

import json
import os
import subprocess
import sys

import pytest
import timm

from wnlb_zoo.cli import list_models
from wnlb_zoo.cli.catalogue_cells import variant_cells
from wnlb_zoo.cli.main import main
from wnlb_zoo.models.catalogue import MAC_COUNTER, variant_facts
from wnlb_zoo.weights import Evaluation, WeightRecord, write_record


@pytest.mark.slow
def test_list_json_matches_the_registry(capsys):
    assert main(["list", "--json"]) == 0
    variants = json.loads(capsys.readouterr().out)
    assert [variant["name"] for variant in variants] == timm.list_models("wnlb_*")
    for variant in variants:
        assert set(variant["macs"]) == {"400x600", "800x1333"}
        assert 0 < variant["wnlb_macs"]["800x1333"] < variant["macs"]["800x1333"]
        assert [level["stride"] for level in variant["features"]] == [4, 8, 16, 32]
        assert variant["mac_counter"] == MAC_COUNTER


def test_list_pretrained_json_matches_the_registry(capsys):
    assert main(["list", "--pretrained", "--json"]) == 0
    weights = json.loads(capsys.readouterr().out)
    assert sorted(weight["name"] for weight in weights) == sorted(timm.list_pretrained("wnlb_*"))
    defaults = [weight["name"] for weight in weights if weight["default"]]
    expected = [f"{name}.{timm.models.get_pretrained_cfg(name).tag}" for name in timm.list_models("wnlb_*")]
    assert sorted(defaults) == sorted(expected)
    assert {weight["license"] for weight in weights} <= {"apache-2.0", "bsd-3-clause"}


def test_list_prints_one_row_per_variant(capsys, monkeypatch):
    # The table's rendering, on one variant: counting all seven is the JSON test's job.
    monkeypatch.setattr(list_models, "zoo_facts", lambda: [variant_facts("wnlb_resnet18")])
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    header, rule, row = out.splitlines()[:3]
    assert header.split()[:2] == ["Model", "Base"] and "GMACs 800x1333 (in wNLB)" in header
    assert set(rule) <= {"-", " "}
    assert row.split()[:2] == ["wnlb_resnet18", "resnet18"] and row.split()[-1] == "a1_in1k"
    assert MAC_COUNTER in out


def test_list_pretrained_prints_one_row_per_weight_and_says_none_is_low_light(capsys):
    assert main(["list", "--pretrained"]) == 0
    out = capsys.readouterr().out
    for name in timm.list_pretrained("wnlb_*"):
        assert f"\n{name} " in out
    assert "No low-light weights are published yet" in out


def test_info_prints_the_facts_and_how_to_load(capsys):
    assert main(["info", "wnlb_resnet18.tv_in1k"]) == 0
    out = capsys.readouterr().out
    facts = variant_facts("wnlb_resnet18")
    for header, value in variant_cells(facts).items():
        assert f"{header}  " in out and value in out
    assert out.count(" embedded ") == 4  # one row per block
    assert "wnlb_resnet18.tv_in1k            ImageNet-1k" in out and "bsd-3-clause" in out
    assert 'timm.create_model("wnlb_resnet18.tv_in1k", pretrained=True, features_only=True' in out
    assert 'maskrcnn("wnlb_resnet18.tv_in1k", num_classes=9' in out


@pytest.mark.parametrize(
    ("name", "suggested"),
    [
        ("wnlb_resnet5", "wnlb_resnet50"),
        ("resnet50", "wnlb_resnet50"),
        ("wnlb_convnext_tinny", "wnlb_convnext_tiny"),
        ("wnlb_resnet50.in1k", "wnlb_resnet50.tv_in1k"),  # a known variant, an unknown tag: its tags
    ],
)
def test_info_on_an_unknown_name_suggests_the_closest(capsys, name, suggested):
    assert main(["info", name]) == 2
    err = capsys.readouterr().err
    assert f"Unknown model {name!r}. Did you mean: " in err
    assert suggested in err.split("Did you mean: ")[1].split("?")[0].split(", ")


@pytest.mark.parametrize("pretrained", [[], ["--pretrained"]])
def test_an_unknown_tag_from_the_command_line_lists_the_known_tags(capsys, pretrained):
    assert main(["features", "wnlb_resnet18.nope", *pretrained]) == 2
    err = capsys.readouterr().err
    assert "Unknown pretrained tag 'nope' for wnlb_resnet18: its tags are wnlb_resnet18.a1_in1k" in err
    assert "Traceback" not in err


def test_info_without_a_close_name_lists_the_variants(capsys):
    assert main(["info", "yolo"]) == 2
    err = capsys.readouterr().err
    assert all(name in err for name in timm.list_models("wnlb_*"))


@pytest.mark.slow
def test_a_published_weight_shows_its_hash_ap_and_licence(tmp_path):
    """A manifest record (set before import, as timm registers tags then) becomes the default, with its facts."""
    record = WeightRecord(
        architecture="wnlb_resnet18",
        tag="lis_test",
        repo_id="wnlb-test/wnlb-resnet18-lis",
        filename="model.safetensors",
        sha256="ab" * 32,
        size=1000,
        format="safetensors",
        model_kwargs={},
        pretrained_cfg={"num_classes": 0},
        base_weights="timm/resnet18.a1_in1k",
        training_data=("LIS RGB-dark train",),
        recipe="wnlb-zoo finetune ...",
        metrics=(Evaluation("Mask R-CNN R18-FPN", "LIS", "test", 12.5, 25.0, 11.0, 10.25, 20.0, 9.0),),
        license="cc-by-4.0",
        date="2025-03-01",
    )
    write_record(record, tmp_path)
    env = {**os.environ, "WNLB_ZOO_MANIFEST": str(tmp_path)}
    command = [sys.executable, "-m", "wnlb_zoo", "list", "--pretrained"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    row = next(line for line in out.splitlines() if line.startswith("wnlb_resnet18.lis_test"))
    assert row.split()[:2] == ["wnlb_resnet18.lis_test", "(default)"]
    assert "LIS RGB-dark train" in row and "12.5 / 10.2 (LIS test)" in row
    assert "abababab" in row and "cc-by-4.0" in row and "wnlb-test/wnlb-resnet18-lis" in row
    assert "No low-light weights are published yet" not in out


def test_a_stock_timm_name_with_an_unknown_tag_lists_its_tags(capsys):
    assert main(["features", "resnet18.nope"]) == 2
    err = capsys.readouterr().err
    assert "Unknown pretrained tag 'nope' for resnet18: its tags are resnet18.a1_in1k" in err
    assert "Traceback" not in err


def test_an_unknown_architecture_gets_suggestions_not_the_whole_registry(capsys):
    assert main(["features", "resnet181"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wnlb-zoo features: error: Unknown model 'resnet181': did you mean resnet18")
    assert len(err) < 300  # timm registers ~1,300 names; they are not listed
