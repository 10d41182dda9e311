"""Study files for comparisons small enough for a 2-core CPU, and hand-made results to summarise."""

from __future__ import annotations

import json

import pytest

# The one-step run of tests/engine (its ``one_step_run_args``) as study options: 2 synthetic 64 px
# training scenes (one optimiser step per epoch, frozen body), 1 validation scene; the light RoI heads
# (the ``light_heads`` fixture) are added by ``two_by_two``.
TINY_FINETUNE = {
    "synthetic_train": 2,
    "synthetic_val": 1,
    "synthetic_size": 64,
    "min_size": 64,
    "max_size": 64,
    "epochs": 1,
    "batch_size": 2,
    "optimizer": "sgd",
    "momentum": 0,
    "lr": 0.004,
    "warmup_iters": 2,
    "trainable_backbone_layers": 0,
    "workers": 0,
    "device": "cpu",
    "export": False,
}

TWO_BY_TWO = {
    "description": "2 configurations x 2 seeds on tiny synthetic scenes",
    "finetune": TINY_FINETUNE,
    "configurations": [
        {"label": "plain", "backbone": "resnet18"},
        {"label": "wnlb", "backbone": "wnlb_resnet18", "backbone_kwargs": {"wnlb_stages": [4]}},
    ],
    "seeds": [0, 1],
}


@pytest.fixture(scope="session")
def two_by_two(light_heads):
    """A study of 2 configurations (plain resnet18, a wnlb_resnet18) x 2 seeds on tiny synthetic scenes,
    light RoI heads."""
    study = json.loads(json.dumps(TWO_BY_TWO))
    study["finetune"]["detector_kwargs"] = light_heads
    return study


@pytest.fixture
def write_study(tmp_path):
    """``write_study(spec, name="study.json") -> path``: a study file in ``tmp_path``."""

    def write(spec: dict, name: str = "study.json"):
        path = tmp_path / name
        path.write_text(json.dumps(spec))
        return path

    return write


def _result_record(
    label: str, seed: int, box: float | None, mask: float | None, rate: float, point_index=None, point=None
):
    """A results.jsonl record with just what the summary reads (AP as fractions, as COCOeval gives them)."""
    scores = {
        "epoch": 1,
        "bbox": {"AP": box, "AP50": None, "AP75": None},
        "segm": {"AP": mask, "AP50": None, "AP75": None},
    }
    return {
        "cell": f"{label}/seed-{seed}",
        "label": label,
        "seed": seed,
        "point_index": point_index,
        "point": point,
        "final": scores,
        "best": scores,
        "train_img_per_s": rate,
        "peak_memory_mib": 100.0 + seed,
    }


@pytest.fixture(scope="session")
def result_record():
    """``result_record(label, seed, box_ap, mask_ap, img_per_s, point_index=None, point=None)``: a record."""
    return _result_record
