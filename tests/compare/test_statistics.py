"""Summary statistics of a comparison against values worked out by hand, and the report written from them."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from PIL import Image

from wnlb_zoo.compare import paired_difference, read_results, spread, summarize, t_quantile
from wnlb_zoo.compare.plots import AP_PLOT, GAIN_PLOT, write_plots
from wnlb_zoo.compare.summary import csv_table, markdown_table

# Student's t, two-sided 95% (and one 90%), from the printed tables.
T_TABLE = {(0.95, 1): 12.7062047, (0.95, 2): 4.3026527, (0.95, 3): 3.1824463, (0.95, 4): 2.7764451}
T_TABLE |= {(0.95, 5): 2.5705818, (0.95, 10): 2.2281389, (0.95, 30): 2.0422725, (0.90, 2): 2.9199856}


@pytest.mark.parametrize(("confidence", "df"), sorted(T_TABLE))
def test_t_quantile_matches_the_tables(confidence, df):
    assert t_quantile(confidence, df) == pytest.approx(T_TABLE[confidence, df], abs=1e-6)


def test_t_quantile_matches_scipy():
    stats = pytest.importorskip("scipy.stats")  # a test dependency only: the package computes t itself
    for df in range(1, 41):
        for confidence in (0.8, 0.95, 0.99):
            assert t_quantile(confidence, df) == pytest.approx(stats.t.ppf((1 + confidence) / 2, df), rel=1e-9)


def test_spread_and_paired_difference_by_hand():
    assert dataclasses.astuple(spread([10.0, 20.0, 30.0])) == pytest.approx((20.0, 10.0, 3))  # sample std: n - 1
    assert spread([4.0]).std is None
    # differences 5, 2, 8: mean 5, sample std 3, half width t(2) * 3 / sqrt(3)
    gain = paired_difference([15.0, 22.0, 38.0], [10.0, 20.0, 30.0])
    half = 4.3026527 * 3 / math.sqrt(3)
    assert (gain.mean, gain.n) == (pytest.approx(5.0), 3)
    assert (gain.low, gain.high) == (pytest.approx(5 - half), pytest.approx(5 + half))
    one = paired_difference([3.0], [1.0])
    assert (one.mean, one.low, one.high, one.n) == (2.0, None, None, 1)
    with pytest.raises(ValueError, match="equally many"):
        paired_difference([1.0, 2.0], [1.0])


@pytest.fixture
def results_file(tmp_path, result_record):
    """Three seeds of a baseline and a wNLB, the wNLB's mask AP unmeasured for seed 1 (COCOeval had nothing)."""
    records = [
        result_record("base", 0, 0.10, 0.04, 2.0),
        result_record("base", 1, 0.20, 0.06, 2.2),
        result_record("base", 2, 0.30, 0.08, 1.8),
        result_record("wnlb", 2, 0.38, 0.12, 0.9),  # order in the file does not matter
        result_record("wnlb", 0, 0.15, 0.10, 1.0),
        result_record("wnlb", 1, 0.22, None, 1.1),
    ]
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def test_summary_by_hand(results_file):
    rows = summarize(read_results(results_file), "base", ["base", "wnlb"])
    base, wnlb = rows
    assert [row.label for row in rows] == ["base", "wnlb"] and wnlb.seeds == (0, 1, 2)
    assert (base.ap["box"].mean, base.ap["box"].std) == (pytest.approx(20.0), pytest.approx(10.0))
    assert base.gain == {"box": None, "mask": None}
    # box: 15, 22, 38 -> mean 25, deviations -10, -3, 13 -> variance 278 / 2
    assert (wnlb.ap["box"].mean, wnlb.ap["box"].std) == (pytest.approx(25.0), pytest.approx(math.sqrt(139)))
    half = 4.3026527 * 3 / math.sqrt(3)  # differences 5, 2, 8
    box = wnlb.gain["box"]
    assert (box.mean, box.low, box.high, box.n) == (
        pytest.approx(5.0),
        pytest.approx(5 - half),
        pytest.approx(5 + half),
        3,
    )
    # mask: seed 1 unmeasured -> mean of 10, 12; pairs (10 - 4, 12 - 8) = 6, 4: mean 5, std sqrt(2), t(1)
    assert (wnlb.ap["mask"].mean, wnlb.ap["mask"].std, wnlb.ap["mask"].n) == (
        pytest.approx(11.0),
        pytest.approx(math.sqrt(2)),
        2,
    )
    mask = wnlb.gain["mask"]
    assert (mask.mean, mask.n) == (pytest.approx(5.0), 2)
    assert (mask.low, mask.high) == (pytest.approx(5 - 12.7062047), pytest.approx(5 + 12.7062047))
    assert wnlb.img_per_s.mean == pytest.approx(1.0) and wnlb.speed_vs_baseline == pytest.approx(0.5)
    assert wnlb.peak_memory_mib == pytest.approx(101.0)

    table = markdown_table(rows, "base").splitlines()
    assert table[0].startswith("| configuration | seeds | box AP | mask AP | box AP gain vs base [95% CI]")
    assert (
        table[3] == "| wnlb | 3 | 25.0 ± 11.8 | 11.0 ± 1.4 | +5.0 [-2.5, +12.5] | +5.0 [-7.7, +17.7] "
        "| 1.00 ± 0.10 | 0.50x | 101 |"
    )
    assert table[2].split(" | ")[4:6] == ["-", "-"]  # no gain of the baseline over itself

    columns, _, wnlb_line = csv_table(rows).splitlines()
    values = dict(zip(columns.split(","), wnlb_line.split(","), strict=True))
    assert float(values["box_ap_gain_low"]) == pytest.approx(5 - half) and values["mask_ap_pairs"] == "2"
    assert float(values["box_ap_std"]) == pytest.approx(math.sqrt(139))


def test_summary_and_plots_along_an_axis(tmp_path, result_record):
    records = [
        result_record(label, seed, box, box / 2, rate, point_index=index, point=point)
        for index, point in enumerate([[2.0, 4.0], [10.0, 100.0]])
        for label, rate, shift in (("base", 2.0, 0.0), ("wnlb", 1.5, 0.05 * index))
        for seed, box in ((0, 0.2 + shift - 0.1 * index), (1, 0.3 + shift - 0.1 * index))
    ]
    rows = summarize(records, "base", ["base", "wnlb"])
    assert [(row.label, row.point_index) for row in rows] == [("base", 0), ("wnlb", 0), ("base", 1), ("wnlb", 1)]
    assert rows[1].gain["box"].mean == pytest.approx(0.0) and rows[3].gain["box"].mean == pytest.approx(5.0)
    assert rows[3].gain["box"].low == pytest.approx(5.0)  # equal differences: an interval of width 0
    assert "| wnlb | 10-100 | 2 |" in markdown_table(rows, "base", axis_title="dark ratio")
    paths = write_plots(rows, tmp_path, "base", axis_title="dark ratio")
    assert [path.name for path in paths] == [AP_PLOT, GAIN_PLOT]
    for path in paths:
        with Image.open(path) as image:
            image.load()  # decodes the whole PNG
            assert image.format == "PNG" and image.width > 300 and image.height > 200
