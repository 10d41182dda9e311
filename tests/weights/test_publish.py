"""Publishing: the folder is validated, the plan lists exactly what goes up, and what reaches the hub is
the weight the manifest record describes: its bytes hash to the recorded sha256, and the config and model
card that go with it build and name that weight."""

import fnmatch
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from huggingface_hub import metadata_load

from wnlb_zoo.weights import WeightIntegrityError, plan_upload, publish_folder, sha256_file
from wnlb_zoo.weights import publish as publish_module
from wnlb_zoo.weights.manifest import read_record


class FakeHub:
    """Stands in for huggingface_hub.HfApi: keeps repos in memory and uploads by reading the folder.

    ``upload_folder`` reads the files of ``folder_path`` that match ``allow_patterns`` (fnmatch, as the hub
    client filters them), so a test sees the bytes that would have gone up, not only the arguments.
    """

    calls: list = []
    repos: dict[str, dict[str, bytes]] = {}

    def __init__(self, token=None):
        self.calls.append(("init", {"token": token}))

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        self.repos.setdefault(repo_id, {})

    def upload_folder(self, *, repo_id, folder_path, allow_patterns, **kwargs):
        self.calls.append(
            (
                "upload_folder",
                {"repo_id": repo_id, "folder_path": folder_path, "allow_patterns": allow_patterns, **kwargs},
            )
        )
        folder = Path(folder_path)
        repo = self.repos[repo_id]  # KeyError: uploaded before the repo was created
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            if path.is_file() and any(fnmatch.fnmatch(name, pattern) for pattern in allow_patterns):
                repo[name] = path.read_bytes()


@pytest.fixture
def api(monkeypatch):
    FakeHub.calls = []
    FakeHub.repos = {}
    monkeypatch.setattr(publish_module, "HfApi", FakeHub)
    return FakeHub


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
    assert api.calls == [] and api.repos == {}
    assert plan.record == exported.record


def test_publish_uploads_the_recorded_weight_with_its_config_and_card(exported, folder, api, tmp_path):
    (folder / ".cache").mkdir()
    (folder / ".cache" / "lock").write_text("")
    plan = publish_folder(folder, exported.record.repo_id, private=True, token="secret")
    record = exported.record
    assert list(api.repos) == [record.repo_id]
    uploaded = api.repos[record.repo_id]
    assert sorted(uploaded) == ["README.md", "config.json", "model.safetensors", f"{record.name}.json"]
    assert sorted(uploaded) == [file.path for file in plan.files]  # hidden folders stay home
    weights = uploaded[record.filename]
    assert len(weights) == record.size and hashlib.sha256(weights).hexdigest() == record.sha256
    config = json.loads(uploaded["config.json"])
    assert config["architecture"] == record.architecture
    (tmp_path / "hub").mkdir()
    uploaded_record = tmp_path / "hub" / f"{record.name}.json"
    uploaded_record.write_bytes(uploaded[f"{record.name}.json"])
    assert read_record(uploaded_record) == record
    card_path = tmp_path / "hub" / "README.md"
    card_path.write_bytes(uploaded["README.md"])
    card = metadata_load(card_path)
    assert card["library_name"] == "timm"
    assert card["model-index"][0]["name"] == record.name
    assert f'timm.create_model("hf-hub:{record.repo_id}"' in uploaded["README.md"].decode()


def test_publish_creates_the_repo_before_uploading_with_the_callers_options(exported, folder, api):
    publish_folder(folder, exported.record.repo_id, private=True, token="secret", commit_message="First weights")
    assert [call[0] for call in api.calls] == ["init", "create_repo", "upload_folder"]
    assert api.calls[0][1] == {"token": "secret"}
    assert api.calls[1][1] == {"repo_id": exported.record.repo_id, "private": True, "exist_ok": True}
    assert api.calls[2][1]["commit_message"] == "First weights"
    publish_folder(folder, exported.record.repo_id)
    assert api.calls[-1][1]["commit_message"] == "Upload wnlb_resnet18.roundtrip_test"


def test_tampered_weights_are_not_published(exported, folder, api, flip_byte):
    flip_byte(folder / "model.safetensors")
    with pytest.raises(WeightIntegrityError, match="model.safetensors"):
        publish_folder(folder, exported.record.repo_id)
    assert api.calls == [] and api.repos == {}


def test_incomplete_folder_and_wrong_repo_are_refused(exported, folder, api):
    with pytest.raises(ValueError, match="publishes to wnlb-test/wnlb-resnet18-roundtrip, not org/other"):
        publish_folder(folder, "org/other", dry_run=True)
    (folder / "README.md").unlink()
    with pytest.raises(FileNotFoundError, match="missing \\['README.md'\\]"):
        publish_folder(folder, exported.record.repo_id, dry_run=True)
    assert api.calls == [] and api.repos == {}
    assert sha256_file(folder / "model.safetensors") == exported.record.sha256


def test_a_link_to_a_file_outside_the_folder_is_not_published(exported, folder, api, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the hub")
    (folder / "notes.txt").symlink_to(secret)
    with pytest.raises(ValueError, match=f"links to files outside it \\(notes.txt -> {secret}\\)"):
        publish_folder(folder, exported.record.repo_id)
    assert api.calls == [] and api.repos == {}
    (folder / "notes.txt").unlink()
    (folder / "card.md").symlink_to("README.md")  # a link inside the folder is harmless
    assert "card.md" in [file.path for file in plan_upload(folder, exported.record.repo_id).files]
