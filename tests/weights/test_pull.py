"""Pulling a published weight into the local mirror: verified, offline from the cache, clear errors otherwise."""

import pytest

from wnlb_zoo.weights import PretrainedWeightsNotFound, WeightIntegrityError, pull_weight, sha256_file
from wnlb_zoo.weights import hub as hub_module


def test_pull_copies_the_verified_cache_file_into_the_mirror(exported, manifest, hf_cache, tmp_path):
    path = pull_weight(exported.record.name, mirror=tmp_path / "mirror")
    assert path == tmp_path / "mirror" / exported.record.name / "model.safetensors"
    assert sha256_file(path) == exported.record.sha256
    assert [p.name for p in path.parent.iterdir()] == ["model.safetensors"]


def test_pull_replaces_a_damaged_mirror_copy(exported, manifest, hf_cache, mirror, flip_byte):
    flip_byte(mirror)
    assert pull_weight(exported.record.name) == mirror
    assert sha256_file(mirror) == exported.record.sha256


def test_pull_downloads_when_the_hub_is_reachable(exported, manifest, online, monkeypatch, tmp_path):
    def download(repo_id, filename, **kwargs):
        assert (repo_id, filename) == (exported.record.repo_id, exported.record.filename)
        return str(exported.export.weights)

    monkeypatch.setattr(hub_module, "_unanswered", lambda url, timeout: "")
    monkeypatch.setattr(hub_module, "hf_hub_download", download)
    path = pull_weight(exported.record.name, mirror=tmp_path / "mirror")
    assert sha256_file(path) == exported.record.sha256


def test_pull_refuses_a_download_with_the_wrong_hash(exported, manifest, online, monkeypatch, tmp_path):
    other = tmp_path / "other.safetensors"
    other.write_bytes(b"something else")
    monkeypatch.setattr(hub_module, "_unanswered", lambda url, timeout: "")
    monkeypatch.setattr(hub_module, "hf_hub_download", lambda *args, **kwargs: str(other))
    with pytest.raises(WeightIntegrityError):
        pull_weight(exported.record.name, mirror=tmp_path / "mirror")
    assert not (tmp_path / "mirror" / exported.record.name / "model.safetensors").exists()


def test_pull_errors_say_what_to_do(exported, manifest, tmp_path):
    with pytest.raises(PretrainedWeightsNotFound, match="HF_HUB_OFFLINE is set.*machine that reaches"):
        pull_weight(exported.record.name, mirror=tmp_path / "mirror")
    with pytest.raises(ValueError, match="WNLB_ZOO_WEIGHTS"):
        pull_weight(exported.record.name)
    with pytest.raises(ValueError, match="No manifest record 'wnlb_resnet18.nope'"):
        pull_weight("wnlb_resnet18.nope", mirror=tmp_path / "mirror")
