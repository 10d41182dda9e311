"""The JSON form of a run's configuration: what run folders and comparison cells record, read back."""

import dataclasses
import json
import logging

import pytest
import torch

from wnlb_zoo.engine import FinetuneConfig, config_from_json, config_to_json
from wnlb_zoo.engine.data_sources import DataSettings
from wnlb_zoo.engine.distributed import DistributedContext
from wnlb_zoo.engine.resume import RESUMABLE_OPTIONS, resumed_config

MAIN = DistributedContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


def test_a_config_survives_json_with_its_tuples():
    config = FinetuneConfig(
        data=DataSettings(synthetic_dark_ratio=(3.0, 6.0), val_split_sha256="ab" * 32),
        lr_steps=(3, 4),
        backbone_kwargs={"wnlb_kv_stride": [8, 4, 2, 1]},
    )
    written = json.loads(json.dumps(config_to_json(config)))
    assert written["lr_steps"] == [3, 4] and written["data"]["synthetic_dark_ratio"] == [3.0, 6.0]
    again = config_from_json(written)
    assert again == config
    assert isinstance(again.lr_steps, tuple) and isinstance(again.data.synthetic_dark_ratio, tuple)


def test_an_older_record_without_newer_options_takes_their_defaults():
    recorded = config_to_json(FinetuneConfig(epochs=3))
    del recorded["channels_last"], recorded["data"]["val_split_sha256"]
    assert config_from_json(recorded) == FinetuneConfig(epochs=3)


def test_a_record_naming_an_option_the_engine_lacks_is_refused():
    with pytest.raises(TypeError, match="no_such_option"):
        config_from_json({**config_to_json(FinetuneConfig()), "no_such_option": 1})


def test_a_resumed_run_keeps_its_own_settings_but_the_resumable_options(caplog):
    running = FinetuneConfig(backbone="resnet18", lr_steps=(2,), seed=3, epochs=2)
    recorded = config_to_json(dataclasses.replace(running, data=DataSettings(val_split_sha256="cd" * 32)))
    given = FinetuneConfig(backbone="wnlb_resnet50", epochs=5, workers=0, output="elsewhere", resume="auto")
    with caplog.at_level(logging.INFO, logger="wnlb_zoo"):
        resumed = resumed_config(given, recorded, MAIN)
    assert (resumed.backbone, resumed.lr_steps, resumed.seed, resumed.data.val_split_sha256) == (
        "resnet18",
        (2,),
        3,
        "cd" * 32,
    )
    assert {name: getattr(resumed, name) for name in RESUMABLE_OPTIONS} == {
        name: getattr(given, name) for name in RESUMABLE_OPTIONS
    }
    assert "ignoring the differing option(s): backbone" in caplog.text
