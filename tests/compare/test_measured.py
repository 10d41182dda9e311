"""Measured AP of a variant, read from comparison folders: by hand, in ``wnlb-zoo info``, on the variants page."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import timm

from wnlb_zoo.cli.main import main
from wnlb_zoo.compare import Configuration, DataAxis, Study
from wnlb_zoo.compare.measured import measurements_by_variant, published_results, read_measurements
from wnlb_zoo.compare.runner import describe
from wnlb_zoo.engine import FinetuneConfig, config_to_json
from wnlb_zoo.engine.data_sources import DataSettings

ROOT = Path(__file__).resolve().parents[2]
T_95_1 = 12.7062047  # Student's t, two-sided 95%, 1 degree of freedom (two paired seeds)
ENVIRONMENT = {"device": "Test CPU (2 logical cores)", "date": "2026-11-30T10:00:00+00:00"}


@pytest.fixture
def comparison(tmp_path, result_record):
    """A finished comparison folder: a baseline, the wNLB variant as named, and one with kwargs; 2 seeds x 2 points."""
    study = Study(
        base=FinetuneConfig(data=DataSettings(synthetic_size=64, synthetic_classes=1), epochs=2, min_size=64),
        configurations=(
            Configuration("plain", "resnet18"),
            Configuration("wnlb", "wnlb_resnet18"),
            Configuration("last-stage", "wnlb_resnet18", {"wnlb_stages": [4]}),  # another network: not measured
        ),
        seeds=(0, 1),
        axis=DataAxis("synthetic_dark_ratio", ((2.0, 4.0), (10.0, 100.0)), label="dark ratio"),
    )
    box = {"plain": [(0.20, 0.25), (0.01, 0.02)], "wnlb": [(0.30, 0.40), (0.01, 0.02)], "last-stage": [(0.5, 0.5)] * 2}
    records = []
    for cell in study.cells():
        label = cell.configuration.label
        ap = box[label][cell.point_index][cell.seed]
        record = result_record(label, cell.seed, ap, ap / 2, 1.0, cell.point_index, list(cell.point))
        record["config"] = config_to_json(study.cell_config(cell, tmp_path))
        record["environment"] = ENVIRONMENT
        record["command"] = "wnlb-zoo compare study.json"
        records.append(record)
    (tmp_path / "study.json").write_text(json.dumps(describe(study)))
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    return tmp_path


def test_a_variant_as_named_is_measured_and_its_numbers_are_the_hand_computed_ones(comparison):
    (measurement,) = read_measurements(comparison, ["wnlb_resnet18", "wnlb_resnet34"])
    assert (measurement.variant, measurement.label, measurement.baseline) == ("wnlb_resnet18", "wnlb", "plain")
    assert measurement.date == "2026-11-30" and measurement.device == ENVIRONMENT["device"]
    assert measurement.dataset == "synthetic dark scenes (64 px, 1 class, 128 train / 32 val)"  # axis not repeated
    assert measurement.recipe.startswith("from scratch, 2 epochs of batch 2, sgd lr 0.02 per 16 images")
    headers, rows = measurement.table()
    assert headers == ["Condition", "Seeds", "Box AP", "Mask AP", "Box AP gain [95% CI]", "Mask AP gain [95% CI]"]
    # point 0, box AP 30 and 40 against 20 and 25: mean 35, sample std 5*sqrt(2); paired gains 10 and 15
    half = T_95_1 * (5 / math.sqrt(2)) / math.sqrt(2)
    box_gain = f"+12.5 [{12.5 - half:+.1f}, {12.5 + half:+.1f}]"
    mask_half = half / 2
    mask_gain = f"+6.2 [{6.25 - mask_half:+.1f}, {6.25 + mask_half:+.1f}]"
    assert rows[0] == ["dark ratio 2-4", "2", f"35.0 ± {5 * math.sqrt(2):.1f}", "17.5 ± 3.5", box_gain, mask_gain]
    assert rows[1][:4] == ["dark ratio 10-100", "2", "1.5 ± 0.7", "0.8 ± 0.4"]
    equal = measurement.points[1].gain["box"]  # equal pairs: no spread, an interval of width zero at zero
    assert (equal.mean, equal.low, equal.high, equal.n) == (pytest.approx(0), pytest.approx(0), pytest.approx(0), 2)


def test_a_variant_measured_nowhere_has_no_measurement(comparison):
    assert measurements_by_variant([comparison], ["wnlb_resnet34", "wnlb_convnext_tiny"]) == {}


def test_info_shows_the_measured_ap_of_a_results_folder(comparison, capsys):
    assert main(["info", "wnlb_resnet18", "--results", str(comparison / "results.jsonl")]) == 0
    out = capsys.readouterr().out
    assert f"Measured AP (%, mean ± std over seeds) from {comparison}:" in out
    assert "Test CPU (2 logical cores), 2026-11-30" in out
    assert "dark ratio 2-4" in out and "+12.5 [" in out and "dark ratio 10-100" in out


def test_info_refuses_a_folder_that_is_not_a_comparison(tmp_path, capsys):
    assert main(["info", "wnlb_resnet18", "--results", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "is not a comparison folder: study.json and results.jsonl missing" in error
    assert "--output folder of a `wnlb-zoo compare` run" in error


def test_published_measurements_agree_with_their_comparison_summary():
    """What info and the variants page show is the published comparison's own summary table, row for row."""
    folders = published_results()
    assert folders, "docs/results/ holds no comparison"
    variants = timm.list_models("wnlb_*")
    compared = 0
    for folder in folders:
        summary = list(csv.DictReader((folder / "summary.csv").open()))
        for measurement in read_measurements(folder, variants):
            rows = [row for row in summary if row["configuration"] == measurement.label]
            assert len(rows) == len(measurement.points)
            for row, point in zip(rows, measurement.points, strict=True):
                for kind in ("box", "mask"):
                    assert point.ap[kind].mean == pytest.approx(float(row[f"{kind}_ap_mean"]))
                    assert point.gain[kind].mean == pytest.approx(float(row[f"{kind}_ap_gain"]))
                compared += 1
    assert compared


def test_the_variants_page_shows_measured_ap_only_for_measured_variants():
    page = (ROOT / "docs" / "variants.md").read_text()
    sections = {part.split("\n", 1)[0]: part for part in page.split("\n## ")[1:]}
    measured = measurements_by_variant(published_results(), [name for name in sections if name.startswith("wnlb_")])
    assert measured
    for name, section in sections.items():
        if not name.startswith("wnlb_"):
            continue
        shown = section.count("**Measured AP**")
        assert shown == len(measured.get(name, [])), name
