"""Fixtures for fine-tuning runs small enough for a 2-core CPU."""

import json

import pytest


def _tiny_run_args(light_heads: dict, output, epochs: int = 2, *extra: str) -> list[str]:
    return [
        "finetune",
        "--synthetic-train", "8",
        "--synthetic-val", "5",
        "--synthetic-size", "64",
        "--min-size", "64",
        "--max-size", "64",
        "--epochs", str(epochs),
        "--batch-size", "2",
        "--optimizer", "adamw",
        "--lr", "0.004",
        "--warmup-iters", "2",
        "--workers", "0",
        "--device", "cpu",
        "--backbone-kwargs", json.dumps({"wnlb_stages": [3, 4]}),
        "--detector-kwargs", json.dumps(light_heads),
        "--output", str(output),
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="session")
def tiny_run_args(light_heads):
    """``tiny_run_args(output, epochs, *extra)``: ``wnlb-zoo finetune`` arguments of a run of seconds
    on 8 synthetic 64 px training images and 5 validation images, with light RoI heads."""

    def tiny_run_args(output, epochs: int = 2, *extra: str) -> list[str]:
        return _tiny_run_args(light_heads, output, epochs, *extra)

    return tiny_run_args


@pytest.fixture(scope="session")
def one_step_run_args(light_heads):
    """Like ``tiny_run_args``, with one optimiser step per epoch on a frozen body and one validation image:
    for tests of a run's life cycle (locks, kills, resumes), not of what it learns."""

    def one_step_run_args(output, epochs: int = 2, *extra: str) -> list[str]:
        one_step = ("--synthetic-train", "2", "--synthetic-val", "1", "--trainable-backbone-layers", "0")
        one_step += ("--optimizer", "sgd", "--momentum", "0")  # no optimiser state: small checkpoints
        return _tiny_run_args(light_heads, output, epochs, *one_step, *extra)

    return one_step_run_args
