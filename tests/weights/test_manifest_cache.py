"""The manifest is parsed once per state of its files: repeated lookups do not re-read it, changes are seen."""

import json
import os
from pathlib import Path

import timm

from wnlb_zoo.weights import find_record, load_manifest, write_record
from wnlb_zoo.weights import manifest as manifest_module


def count_reads(monkeypatch) -> list[str]:
    """Names of the record files read (and validated) from now on."""
    reads = []
    read_record = manifest_module.read_record

    def counting(path):
        reads.append(Path(path).name)
        return read_record(path)

    monkeypatch.setattr(manifest_module, "read_record", counting)
    return reads


def test_repeated_lookups_read_the_manifest_once(exported, tmp_path, monkeypatch):
    write_record(exported.record, tmp_path)
    monkeypatch.setenv("WNLB_ZOO_MANIFEST", str(tmp_path))
    reads = count_reads(monkeypatch)
    for _ in range(3):
        assert find_record(exported.record.name) == exported.record
        assert find_record("wnlb_resnet18.absent") is None
    assert load_manifest(tmp_path) == {exported.record.name: exported.record}
    assert reads == [f"{exported.record.name}.json"]


def test_added_changed_and_removed_records_are_seen(exported, tmp_path):
    name = exported.record.name
    path = write_record(exported.record, tmp_path)
    assert find_record(name, tmp_path).date == "2025-03-01"

    newer = tmp_path / "wnlb_resnet18.newer.json"
    newer.write_text(json.dumps({**exported.record.to_json(), "tag": "newer"}))
    assert find_record("wnlb_resnet18.newer", tmp_path).tag == "newer"

    # the same size and (forced) the same mtime: only the inode tells a replaced file apart
    stat = path.stat()
    replacement = tmp_path / "replacement.tmp"
    replacement.write_text(path.read_text().replace("2025-03-01", "2025-04-01"))
    os.replace(replacement, path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert find_record(name, tmp_path).date == "2025-04-01"

    # rewritten in place with a new mtime
    path.write_text(path.read_text().replace("2025-04-01", "2025-05-01"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert find_record(name, tmp_path).date == "2025-05-01"

    newer.unlink()
    assert find_record("wnlb_resnet18.newer", tmp_path) is None
    assert set(load_manifest(tmp_path)) == {name}


def test_repeated_pretrained_creations_read_the_record_once(exported, manifest, mirror, monkeypatch):
    reads = count_reads(monkeypatch)
    for _ in range(2):
        model = timm.create_model(exported.record.name, pretrained=True, features_only=True, out_indices=(1, 2, 3, 4))
        exported.assert_same_features(model)
    assert reads == [f"{exported.record.name}.json"]
