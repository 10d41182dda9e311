"""A trained checkpoint shared by the tests of the commands that read one (``evaluate``, ``predict``)."""

from __future__ import annotations

import json

import pytest

from wnlb_zoo.cli.main import main

# A run of seconds on a 2-core CPU: 4 synthetic 64 px scenes of 3 classes, one epoch, light RoI heads.
TINY_RUN = [
    "finetune",
    "--synthetic-train", "4",
    "--synthetic-val", "2",
    "--synthetic-size", "64",
    "--min-size", "64",
    "--max-size", "64",
    "--epochs", "1",
    "--batch-size", "2",
    "--workers", "0",
    "--device", "cpu",
    "--no-export",
    "--backbone-kwargs", json.dumps({"wnlb_stages": [4]}),
    "--detector-kwargs", json.dumps(
        {"rpn_pre_nms_top_n_test": 100, "rpn_post_nms_top_n_test": 20, "box_batch_size_per_image": 16}
    ),
]  # fmt: skip


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory):
    """The ``last`` checkpoint of a tiny synthetic run (classes: the 3 synthetic shapes)."""
    output = tmp_path_factory.mktemp("tiny_run") / "run"
    assert main([*TINY_RUN, "--output", str(output)]) == 0
    return output / "last"
