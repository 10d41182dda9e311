"""Checkpoints: verified on save, the previous one kept, ``--resume`` taking the newest intact one, and
every way a user names one (run dir, link, weights file, export) resolving to it."""

import json

import pytest
from torch import nn

from wnlb_zoo.engine.checkpoint import (
    CHECKSUMS_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    continue_from,
    newest_intact_checkpoint,
    remove_staging_leftovers,
    resolve_checkpoint,
    retarget_links,
    save_checkpoint,
    verify_checkpoint,
)
from wnlb_zoo.engine.detector_spec import DetectorSpec

SPEC = DetectorSpec(backbone="resnet18", num_classes=2, class_names=("thing",), label_to_category_id={1: 1})


def save(output, epoch, is_best=False):
    model = nn.Linear(64, 64)
    state = {"epoch": epoch, "best_metric": 0.0, "config": {"epochs": 9}}
    return save_checkpoint(output, epoch, model, SPEC, state, is_best)


def kept(output):
    return sorted(path.name for path in (output / "checkpoints").iterdir())


def damage(checkpoint):
    """Flip one byte in the middle of the weights: the header still parses, the checksum does not match."""
    weights = checkpoint / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))


def test_the_previous_checkpoint_is_kept_beside_last_and_best(tmp_path):
    save(tmp_path, 1, is_best=True)
    save(tmp_path, 2)
    save(tmp_path, 3)
    assert kept(tmp_path) == ["epoch_001", "epoch_002", "epoch_003"]  # best, previous, last
    save(tmp_path, 4, is_best=True)
    assert kept(tmp_path) == ["epoch_003", "epoch_004"]  # last and best coincide: the previous is the fallback
    assert (tmp_path / "last").resolve().name == (tmp_path / "best").resolve().name == "epoch_004"


def test_resume_falls_back_from_a_damaged_last_to_the_previous_checkpoint(tmp_path):
    save(tmp_path, 1)
    save(tmp_path, 2, is_best=True)
    damage(tmp_path / "last")
    checkpoint, skipped = newest_intact_checkpoint(tmp_path)
    assert checkpoint.name == "epoch_001"
    [(damaged, reason)] = skipped
    assert damaged.name == "epoch_002" and "model.safetensors is corrupt or truncated" in reason
    retarget_links(tmp_path, [damaged], checkpoint)
    assert (tmp_path / "last").resolve().name == (tmp_path / "best").resolve().name == "epoch_001"


def test_a_truncated_checkpoint_without_checksums_is_found_by_its_header(tmp_path):
    checkpoint = save(tmp_path, 1)
    (checkpoint / CHECKSUMS_FILE).unlink()  # as written by earlier versions
    weights = checkpoint / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="model.safetensors is corrupt or truncated"):
        verify_checkpoint(checkpoint)


def test_no_intact_checkpoint_is_an_error_naming_each(tmp_path):
    with pytest.raises(CheckpointError, match="holds no checkpoint to resume"):
        newest_intact_checkpoint(tmp_path)
    damage(save(tmp_path, 1))
    with pytest.raises(CheckpointError, match=r"No checkpoint of .* is intact \(.*epoch_001"):
        newest_intact_checkpoint(tmp_path)


def test_saving_leaves_other_staging_folders_alone(tmp_path):
    other = tmp_path / "checkpoints" / ".staging_epoch_005_4242"
    other.mkdir(parents=True)
    save(tmp_path, 1)
    assert other.is_dir()  # another writer's, as far as a save can tell
    remove_staging_leftovers(tmp_path)  # what a run does once it holds the run lock
    assert not other.exists()


@pytest.mark.parametrize("recorded", ["{not json", json.dumps(["model.safetensors"]), json.dumps({"../x": "0" * 64})])
def test_a_corrupt_checksums_file_makes_the_checkpoint_damaged_and_resume_falls_back(tmp_path, recorded):
    save(tmp_path, 1)
    (save(tmp_path, 2) / CHECKSUMS_FILE).write_text(recorded)
    with pytest.raises(CheckpointError, match="checksums.json is corrupt"):
        verify_checkpoint(tmp_path / "last")
    checkpoint, [(damaged, _)] = newest_intact_checkpoint(tmp_path)
    assert (checkpoint.name, damaged.name) == ("epoch_001", "epoch_002")


def test_each_rerun_of_an_epoch_gets_its_own_checkpoint(tmp_path):
    """Re-runs after resumes (the same PID is common in containers) must never reuse a name a link holds."""
    first = save(tmp_path, 1, is_best=True)
    reruns = [save(tmp_path, 1) for _ in range(3)]
    assert [path.name for path in reruns] == ["epoch_001_1", "epoch_001_2", "epoch_001_3"]
    assert (tmp_path / "last").resolve() == reruns[-1].resolve()
    assert (tmp_path / "best").resolve() == first.resolve()
    verify_checkpoint(tmp_path / "last")


def test_resuming_from_an_earlier_checkpoint_continues_that_branch(tmp_path):
    """``--resume OUT/best`` from epoch 1 of 3, killed before saving: a plain ``--resume`` takes epoch 1, not 3."""
    save(tmp_path, 1, is_best=True)
    save(tmp_path, 2)
    save(tmp_path, 3)
    continue_from(tmp_path, tmp_path / "best")
    checkpoint, skipped = newest_intact_checkpoint(tmp_path)
    assert (checkpoint.name, skipped) == ("epoch_001", [])
    rerun = save(tmp_path, 2)  # the resumed run's first checkpoint: the abandoned branch goes
    assert rerun.name == "epoch_002_1"
    assert kept(tmp_path) == ["epoch_001", "epoch_002_1"]
    assert newest_intact_checkpoint(tmp_path)[0].name == "epoch_002_1"


def test_every_way_a_user_names_a_checkpoint_resolves_to_its_directory(tmp_path):
    output = tmp_path / "run"
    first = save(output, 1, is_best=True)
    last = save(output, 2)
    export = output / "export" / "detector"
    export.mkdir(parents=True)
    (export / WEIGHTS_FILE).write_bytes((last / WEIGHTS_FILE).read_bytes())
    SPEC.save(export)
    named = {
        output: last,  # a run directory: its last checkpoint
        last: last,
        output / "last": last,
        output / "best": first,
        first / WEIGHTS_FILE: first,  # the weights file a user points at, as with torchvision's --resume
        output / "best" / WEIGHTS_FILE: first,
        export: export,
        output / "export": export,
        export / WEIGHTS_FILE: export,
    }
    for given, expected in named.items():
        assert resolve_checkpoint(given) == expected.resolve(), given


@pytest.mark.parametrize("kind", ["missing", "other file", "other folder"])
def test_anything_else_is_refused_with_what_is_accepted(tmp_path, kind):
    given = tmp_path / "thing"
    if kind == "other file":
        given.write_text("{}")
    elif kind == "other folder":
        given.mkdir()
    with pytest.raises(CheckpointError) as error:
        resolve_checkpoint(given)
    message = str(error.value)
    assert str(given) in message
    for accepted in ("run directory", "checkpoint directory", "last or best link", "model.safetensors", "export"):
        assert accepted in message


def test_weights_without_a_detector_spec_are_named_incomplete(tmp_path):
    (tmp_path / WEIGHTS_FILE).write_bytes(b"")
    with pytest.raises(CheckpointError, match="detector.json missing"):
        resolve_checkpoint(tmp_path / WEIGHTS_FILE)
