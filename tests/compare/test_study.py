"""A study's cells, their recipes and folders, and what a study refuses."""

from __future__ import annotations

import pytest

from wnlb_zoo.compare import Configuration, DataAxis, Study, cell_statuses
from wnlb_zoo.engine import FinetuneConfig, config_to_json

PLAIN = Configuration("plain", "resnet18")
WNLB = Configuration("wnlb", "wnlb_resnet18", {"wnlb_stages": [4]})


def test_cells_run_point_by_point_then_seed_by_seed_in_pairs(tmp_path):
    study = Study(
        FinetuneConfig(epochs=1),
        (PLAIN, WNLB),
        seeds=(0, 1),
        axis=DataAxis("synthetic_dark_ratio", ([2, 4], [10, 100])),
    )
    keys = [cell.key for cell in study.cells()]
    assert keys[:4] == ["plain/p0_2-4/seed-0", "wnlb/p0_2-4/seed-0", "plain/p0_2-4/seed-1", "wnlb/p0_2-4/seed-1"]
    assert len(keys) == 8 and keys[-1] == "wnlb/p1_10-100/seed-1"
    cell = study.cells()[-1]
    config = study.cell_config(cell, tmp_path)
    assert (config.backbone, config.backbone_kwargs, config.seed, config.data.seed) == (
        "wnlb_resnet18",
        {"wnlb_stages": [4]},
        1,
        1,
    )
    assert config.data.synthetic_dark_ratio == [10, 100] and config.epochs == 1
    assert config.output == str(tmp_path / "cells" / "wnlb/p1_10-100/seed-1")
    # a recipe option on the axis (not a data setting)
    study = Study(FinetuneConfig(), (PLAIN,), axis=DataAxis("epochs", (1, 2)))
    assert [study.cell_config(cell, tmp_path).epochs for cell in study.cells()] == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"configurations": ()}, "at least one configuration"),
        ({"configurations": (PLAIN, Configuration("plain", "resnet34"))}, "unique"),
        ({"configurations": (Configuration("a/b", "resnet18"),)}, "folder name"),
        ({"baseline": "other"}, "baseline 'other'"),
        ({"seeds": (1, 1)}, "distinct seeds"),
        ({"axis": DataAxis("seed", (0, 1))}, "axis option 'seed'"),
        ({"axis": DataAxis("synthetic_size", (64, 64))}, "lists a value twice"),
    ],
)
def test_bad_studies_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Study(**{"base": FinetuneConfig(), "configurations": (PLAIN, WNLB), **kwargs})


def test_a_cell_folder_of_another_recipe_is_refused(tmp_path):
    study = Study(FinetuneConfig(epochs=1), (PLAIN,))
    statuses = cell_statuses(study, tmp_path)
    assert [(status.cell.key, status.state) for status in statuses] == [("plain/seed-0", "new")]
    spec = {"cell": {}, "config": {**config_to_json(study.cell_config(statuses[0].cell, tmp_path)), "device": "cuda"}}
    statuses[0].folder.write_spec(spec)  # where a cell ran may differ on a rerun
    assert cell_statuses(study, tmp_path)[0].state == "new"
    changed = Study(FinetuneConfig(epochs=2, lr=0.1), (PLAIN,))
    with pytest.raises(
        ValueError, match="another recipe \\(differing: lr, epochs\\)|another recipe \\(differing: epochs, lr\\)"
    ):
        cell_statuses(changed, tmp_path)
