"""``pretrained=True`` for published weights: every source gives the exported model, and only a verified file loads."""

import shutil
import time

import pytest
import timm
from safetensors.torch import load_file, save_file

from wnlb_zoo.models import CheckpointMismatchError, _builder
from wnlb_zoo.weights import PretrainedWeightsNotFound, WeightIntegrityError


def create(name, **kwargs):
    return timm.create_model(name, pretrained=True, features_only=True, out_indices=(1, 2, 3, 4), **kwargs)


def refuse_to_build(*args, **kwargs):
    raise AssertionError("a model was built although its weights failed verification")


def test_mirror_gives_the_source_features(exported, manifest, mirror):
    # no wnlb_stages given: the record's model kwargs ([2, 3, 4], not the default) must apply
    exported.assert_same_features(create(exported.record.name))


def test_hf_cache_gives_the_source_features_offline(exported, manifest, hf_cache):
    exported.assert_same_features(create(exported.record.name))


def test_hf_hub_name_gives_the_source_features_offline(exported, hf_cache):
    exported.assert_same_features(create(f"hf-hub:{exported.record.repo_id}"))


def test_local_dir_gives_the_source_features(exported):
    exported.assert_same_features(create(f"local-dir:{exported.export.directory}"))


def test_explicit_file_gives_the_source_features(exported, manifest):
    overlay = dict(file=str(exported.export.weights))
    exported.assert_same_features(create(exported.record.name, pretrained_cfg_overlay=overlay))


def test_flipped_byte_in_the_mirror_raises_and_loads_nothing(exported, manifest, mirror, flip_byte, monkeypatch):
    flip_byte(mirror)
    monkeypatch.setattr(_builder, "build_model_with_cfg", refuse_to_build)
    with pytest.raises(WeightIntegrityError) as error:
        create(exported.record.name)
    message = str(error.value)
    assert str(mirror) in message
    assert f"expected {exported.record.sha256}" in message
    actual = message.split("actual")[1].split()[0]
    assert len(actual) == 64 and actual != exported.record.sha256


def test_flipped_byte_in_an_explicit_file_or_the_cache_raises(exported, manifest, hf_cache, flip_byte, tmp_path):
    broken = tmp_path / "broken.safetensors"
    shutil.copy(exported.export.weights, broken)
    flip_byte(broken)
    with pytest.raises(WeightIntegrityError, match="broken.safetensors"):
        create(exported.record.name, pretrained_cfg_overlay=dict(file=str(broken)))
    flip_byte(hf_cache / "model.safetensors")
    with pytest.raises(WeightIntegrityError, match="snapshots"):
        create(exported.record.name)


def test_without_mirror_or_cache_fails_fast_with_the_options(exported, manifest, online):
    start = time.monotonic()
    with pytest.raises(PretrainedWeightsNotFound) as error:
        create(exported.record.name)
    assert time.monotonic() - start < 5
    message = str(error.value)
    assert exported.record.name in message
    assert "WNLB_ZOO_WEIGHTS is not set" in message
    assert "cannot be reached" in message
    assert "pretrained_cfg_overlay=dict(file=" in message
    assert f"/dir/{exported.record.name}/model.safetensors" in message
    assert f"hf download {exported.record.repo_id}" in message


def test_strict_filter_still_applies_to_local_dir(exported, tmp_path):
    folder = tmp_path / "broken-export"
    shutil.copytree(exported.export.directory, folder)
    state = load_file(folder / "model.safetensors")
    del state["layer3.1.conv2.weight"]
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointMismatchError, match="layer3.1.conv2.weight"):
        create(f"local-dir:{folder}")
