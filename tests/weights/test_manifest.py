"""The weights manifest: records validate with errors naming file and field, and become timm tags."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import timm
from huggingface_hub import constants
from timm.models import generate_default_cfgs

import wnlb_zoo
from wnlb_zoo.models._builder import weight_cfgs
from wnlb_zoo.weights import (
    ManifestError,
    ManifestWarning,
    check_local_copies,
    find_record,
    load_manifest,
    manifest_cfgs,
    manifest_dir,
    read_record,
    scan_manifest,
    write_record,
)

REPO_MANIFEST = Path(wnlb_zoo.__file__).resolve().parents[1] / "weights_manifest"
# the user's mirror and HF cache, read before the autouse fixture replaces them with empty ones
USER_MIRROR = os.environ.get("WNLB_ZOO_WEIGHTS")
USER_HF_CACHE = constants.HF_HUB_CACHE


def write_json(directory: Path, name: str, data: dict) -> Path:
    path = directory / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def test_record_round_trips_through_json(exported, tmp_path):
    path = write_record(exported.record, tmp_path)
    assert path.name == "wnlb_resnet18.roundtrip_test.json"
    assert read_record(path) == exported.record
    assert load_manifest(tmp_path) == {exported.record.name: exported.record}


def broken(data: dict, field: str, value) -> dict:
    data = json.loads(json.dumps(data))
    target, _, key = field.rpartition(".")
    container = data["metrics"][0] if target == "metrics[0]" else data
    if value is KeyError:
        del container[key]
    else:
        container[key] = value
    return data


@pytest.mark.parametrize(
    "field, value, problem",
    [
        ("sha256", "abc", "64 lower-case hex digits"),
        ("size", 0, "positive integer"),
        ("repo_id", "no-org", "org/name"),
        ("format", "pth", "safetensors"),
        ("recipe", KeyError, "missing"),
        ("training_data", [], "non-empty list"),
        ("metrics", [], "non-empty list"),
        ("metrics[0].box_ap", 130, "between 0 and 100"),
        ("metrics[0].split", KeyError, "missing"),
        ("metrics[0].ap_small", 1.0, "unknown field"),
        ("date", "1 March 2025", "YYYY-MM-DD"),
        ("pretrained_cfg", {"hf_hub_id": "x/y"}, "'hf_hub_id'"),
        ("licence", "mit", "unknown field"),
        ("filename", "/model.safetensors", "plain file name"),
        ("filename", "../model.safetensors", "plain file name"),
        ("filename", "..\\model.safetensors", "plain file name"),
        ("repo_id", "org/a..b", "org/name"),
    ],
)
def test_validation_errors_name_the_file_and_the_field(exported, tmp_path, field, value, problem):
    path = write_json(tmp_path, exported.record.name, broken(exported.record.to_json(), field, value))
    with pytest.raises(ManifestError) as error:
        read_record(path)
    message = str(error.value)
    assert str(path) in message
    assert f"'{field}'" in message
    assert problem in message


def test_record_must_be_named_after_its_weight(exported, tmp_path):
    path = write_json(tmp_path, "wnlb_resnet18.other", exported.record.to_json())
    with pytest.raises(ManifestError, match="must be named wnlb_resnet18.roundtrip_test.json"):
        read_record(path)


def test_explicit_manifest_directory_must_exist(tmp_path, monkeypatch):
    with pytest.raises(ManifestError, match="does not exist"):
        load_manifest(tmp_path / "missing")
    monkeypatch.setenv("WNLB_ZOO_MANIFEST", str(tmp_path / "missing"))
    with pytest.raises(ManifestError, match="WNLB_ZOO_MANIFEST"):
        load_manifest()


def test_newest_record_comes_first_and_becomes_the_default_tag(exported, tmp_path, monkeypatch):
    data = exported.record.to_json()
    write_record(exported.record, tmp_path)
    write_json(tmp_path, "wnlb_resnet18.newer", {**data, "tag": "newer", "date": "2025-06-01"})
    assert list(manifest_cfgs("wnlb_resnet18", tmp_path)) == ["wnlb_resnet18.newer", "wnlb_resnet18.roundtrip_test"]
    assert manifest_cfgs("wnlb_resnet50", tmp_path) == {}

    monkeypatch.setenv("WNLB_ZOO_MANIFEST", str(tmp_path))
    cfgs = weight_cfgs("wnlb_resnet18", "resnet18", ("a1_in1k", "tv_in1k"))
    assert list(cfgs) == [
        "wnlb_resnet18.newer",
        "wnlb_resnet18.roundtrip_test",
        "wnlb_resnet18.a1_in1k",
        "wnlb_resnet18.tv_in1k",
    ]
    default = generate_default_cfgs(cfgs)["wnlb_resnet18"]
    assert default.tags[0] == "newer"
    assert default.default.hf_hub_id == exported.record.repo_id
    assert default.default.hf_hub_filename == "model.safetensors"
    assert default.default.num_classes == 0


def test_manifest_tag_may_not_reuse_a_base_tag(exported, tmp_path, monkeypatch):
    write_json(tmp_path, "wnlb_resnet18.a1_in1k", {**exported.record.to_json(), "tag": "a1_in1k"})
    monkeypatch.setenv("WNLB_ZOO_MANIFEST", str(tmp_path))
    with pytest.warns(ManifestWarning, match="wnlb_resnet18.a1_in1k.json reuses the name of a base ImageNet tag"):
        cfgs = weight_cfgs("wnlb_resnet18", "resnet18", ("a1_in1k",))
    assert "hf_hub_filename" not in cfgs["wnlb_resnet18.a1_in1k"]  # the base tag, not the record


def bad_manifest(exported, directory: Path) -> dict[str, Path]:
    """A manifest of one good record and bad files: torn JSON, binary, nested too deep, absolute name, dangling link."""
    write_record(exported.record, directory)
    data = exported.record.to_json()
    bad = {
        "json": directory / "wnlb_resnet18.torn.json",
        "absolute": write_json(
            directory, "wnlb_resnet18.absolute", {**data, "tag": "absolute", "filename": "/x.safetensors"}
        ),
        "link": directory / "wnlb_resnet18.gone.json",
        "binary": directory / "wnlb_resnet18.binary.json",
        "deep": directory / "wnlb_resnet18.deep.json",
    }
    bad["json"].write_text('{"manifest_version": 1, "archi')
    bad["binary"].write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" * 8)  # not UTF-8: UnicodeDecodeError
    bad["deep"].write_text("[" * 100_000 + "]" * 100_000)  # RecursionError in the JSON parser
    bad["link"].symlink_to(directory / "missing.json")
    return bad


def test_invalid_entries_are_skipped_with_a_warning_naming_the_file(exported, tmp_path, monkeypatch):
    bad = bad_manifest(exported, tmp_path)
    monkeypatch.setenv("WNLB_ZOO_MANIFEST", str(tmp_path))
    with pytest.warns(ManifestWarning) as warned:
        cfgs = weight_cfgs("wnlb_resnet18", "resnet18", ("a1_in1k",))
    assert list(cfgs) == [exported.record.name, "wnlb_resnet18.a1_in1k"]
    messages = [str(warning.message) for warning in warned]
    for path in bad.values():
        assert any(message.startswith(f"{path}: ") and "Ignored" in message for message in messages), path
    scan = scan_manifest()
    assert scan.records == {exported.record.name: exported.record}
    assert sorted(entry.path for entry in scan.invalid) == sorted(bad.values())
    with pytest.raises(ManifestError, match="wnlb_resnet18.absolute.json: field 'filename'"):
        load_manifest()  # the strict read still refuses


def test_a_missing_manifest_directory_leaves_the_base_tags(tmp_path, monkeypatch):
    monkeypatch.setenv("WNLB_ZOO_MANIFEST", str(tmp_path / "missing"))
    with pytest.warns(ManifestWarning, match=f"{tmp_path / 'missing'} does not exist"):
        assert list(weight_cfgs("wnlb_resnet18", "resnet18", ("a1_in1k",))) == ["wnlb_resnet18.a1_in1k"]
    assert [entry.path for entry in scan_manifest().invalid] == [tmp_path / "missing"]


@pytest.mark.slow
def test_import_survives_a_bad_manifest(exported, tmp_path):
    bad_manifest(exported, tmp_path)
    script = "import timm, wnlb_zoo; print(timm.list_pretrained('wnlb_resnet18*'))"
    env = {**os.environ, "WNLB_ZOO_MANIFEST": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert exported.record.name in result.stdout and "wnlb_resnet18.a1_in1k" in result.stdout
    assert "wnlb_resnet18.torn.json: not a readable JSON file" in result.stderr


@pytest.mark.slow
def test_import_registers_the_manifest_tags_as_defaults(exported, tmp_path):
    write_record(exported.record, tmp_path)
    script = (
        "import timm, wnlb_zoo; "
        "print(timm.models.get_pretrained_cfg('wnlb_resnet18').tag, timm.list_pretrained('wnlb_resnet18*'))"
    )
    env = {**os.environ, "WNLB_ZOO_MANIFEST": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split()[0] == "roundtrip_test"
    assert "wnlb_resnet18.roundtrip_test" in result.stdout and "wnlb_resnet18.a1_in1k" in result.stdout


def test_the_shipped_manifest_is_valid_and_its_local_files_match(monkeypatch):
    """Runs on the real ``weights_manifest/``: zero records is valid (nothing is published yet)."""
    monkeypatch.delenv("WNLB_ZOO_MANIFEST", raising=False)
    assert manifest_dir() == REPO_MANIFEST
    assert (REPO_MANIFEST / "README.md").is_file()
    records = load_manifest()
    assert len(records) == len(list(REPO_MANIFEST.glob("*.json")))
    for name, record in records.items():
        assert timm.is_model(record.architecture), f"{name}: architecture is not a registered model"
        assert name in timm.list_pretrained(f"{record.architecture}*"), f"{name} is not a registered timm tag"
        for check in check_local_copies(record, mirror=USER_MIRROR, cache_dir=USER_HF_CACHE):
            assert check.ok, f"{check.copy.path} ({check.copy.source}) does not have the sha256 of {name}"


def test_added_changed_and_removed_records_are_seen(exported, tmp_path):
    """Every lookup reads the directory as it is now (no cache: it saved nothing measurable)."""
    name = exported.record.name
    path = write_record(exported.record, tmp_path)
    assert find_record(name, tmp_path).date == "2025-03-01"

    newer = tmp_path / "wnlb_resnet18.newer.json"
    newer.write_text(json.dumps({**exported.record.to_json(), "tag": "newer"}))
    assert find_record("wnlb_resnet18.newer", tmp_path).tag == "newer"

    # replaced by a file of the same size and (forced) the same mtime
    stat = path.stat()
    replacement = tmp_path / "replacement.tmp"
    replacement.write_text(path.read_text().replace("2025-03-01", "2025-04-01"))
    os.replace(replacement, path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert find_record(name, tmp_path).date == "2025-04-01"

    # rewritten in place
    path.write_text(path.read_text().replace("2025-04-01", "2025-05-01"))
    assert find_record(name, tmp_path).date == "2025-05-01"

    newer.unlink()
    assert find_record("wnlb_resnet18.newer", tmp_path) is None
    assert set(load_manifest(tmp_path)) == {name}
