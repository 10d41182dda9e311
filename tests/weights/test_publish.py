"""Publishing: the folder is validated, the plan lists exactly what goes up, the hub calls get it."""

import shutil

import pytest

from wnlb_zoo.weights import WeightIntegrityError, plan_upload, publish_folder, sha256_file
from wnlb_zoo.weights import publish as publish_module


class RecordingApi:
    """Stands in for huggingface_hub.HfApi: records the calls instead of making them."""

    calls: list = []

    def __init__(self, token=None):
        self.calls.append(("init", {"token": token}))

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))


@pytest.fixture
def api(monkeypatch):
    RecordingApi.calls = []
    monkeypatch.setattr(publish_module, "HfApi", RecordingApi)
    return RecordingApi


@pytest.fixture
def folder(exported, tmp_path):
    copy = tmp_path / "export"
    shutil.copytree(exported.export.directory, copy)
    return copy


def test_plan_lists_every_file_with_size_and_hash(exported, folder):
    plan = plan_upload(folder, exported.record.repo_id)
    names = [file.path for file in plan.files]
    assert names == ["README.md", "config.json", "model.safetensors", "wnlb_resnet18.roundtrip_test.json"]
    weights = plan.files[2]
    assert weights.size == exported.record.size and weights.sha256 == exported.record.sha256
    text = plan.describe()
    assert exported.record.repo_id in text
    assert all(file.path in text and file.sha256 in text for file in plan.files)


def test_dry_run_touches_no_hub(exported, folder, api):
    plan = publish_folder(folder, exported.record.repo_id, dry_run=True)
    assert api.calls == []
    assert plan.record == exported.record


def test_publish_creates_the_repo_and_uploads_exactly_the_plan(exported, folder, api):
    (folder / ".cache").mkdir()
    (folder / ".cache" / "lock").write_text("")
    plan = publish_folder(folder, exported.record.repo_id, private=True, token="secret")
    assert [call[0] for call in api.calls] == ["init", "create_repo", "upload_folder"]
    assert api.calls[0][1] == {"token": "secret"}
    assert api.calls[1][1] == {"repo_id": exported.record.repo_id, "private": True, "exist_ok": True}
    upload = api.calls[2][1]
    assert upload["repo_id"] == exported.record.repo_id
    assert upload["folder_path"] == str(folder)
    assert upload["allow_patterns"] == [file.path for file in plan.files]
    assert upload["commit_message"] == "Upload wnlb_resnet18.roundtrip_test"


def test_tampered_weights_are_not_published(exported, folder, api, flip_byte):
    flip_byte(folder / "model.safetensors")
    with pytest.raises(WeightIntegrityError, match="model.safetensors"):
        publish_folder(folder, exported.record.repo_id)
    assert api.calls == []


def test_incomplete_folder_and_wrong_repo_are_refused(exported, folder, api):
    with pytest.raises(ValueError, match="publishes to wnlb-test/wnlb-resnet18-roundtrip, not org/other"):
        publish_folder(folder, "org/other", dry_run=True)
    (folder / "README.md").unlink()
    with pytest.raises(FileNotFoundError, match="missing \\['README.md'\\]"):
        publish_folder(folder, exported.record.repo_id, dry_run=True)
    assert api.calls == []
    assert sha256_file(folder / "model.safetensors") == exported.record.sha256


def test_a_link_to_a_file_outside_the_folder_is_not_published(exported, folder, api, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the hub")
    (folder / "notes.txt").symlink_to(secret)
    with pytest.raises(ValueError, match=f"links to files outside it \\(notes.txt -> {secret}\\)"):
        publish_folder(folder, exported.record.repo_id)
    assert api.calls == []
    (folder / "notes.txt").unlink()
    (folder / "card.md").symlink_to("README.md")  # a link inside the folder is harmless
    assert "card.md" in [file.path for file in plan_upload(folder, exported.record.repo_id).files]
