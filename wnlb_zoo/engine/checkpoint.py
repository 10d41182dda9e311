"""Atomic training checkpoints, and resuming from them.

A checkpoint is a directory ``checkpoints/epoch_NNN/`` holding

* ``model.safetensors``: the detector's weights (what ``evaluate``, ``predict`` and the weights
  export read);
* ``training_state.pt``: optimiser, LR scheduler, AMP scaler, epoch and best metric (what
  ``--resume`` needs; the random generators are seeded per epoch, so they need no state);
* ``detector.json``: the :class:`~wnlb_zoo.engine.detector_spec.DetectorSpec`;
* ``run_config.json``: the run's configuration (``evaluate`` reuses its data settings);
* ``checksums.json``: the sha256 of each file above, as it was meant to be written.

It is written into a temporary directory, verified against its checksums and renamed into place,
and the ``last`` / ``best`` links next to ``checkpoints/`` are switched with an atomic rename: a
run killed at any moment leaves ``last`` pointing at a complete checkpoint. The checkpoint ``last``
pointed at before is kept, so that a checkpoint damaged later (a full disk, a bad copy) still has
an intact predecessor for ``--resume`` to fall back on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from safetensors import safe_open
from torch import nn

from ..weights.integrity import read_sha256
from ..weights.state_dict_file import StateDictFileError, load_state_dict_file
from .detector_spec import SPEC_FILENAME, DetectorSpec

WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "training_state.pt"
RUN_CONFIG_FILE = "run_config.json"
CHECKSUMS_FILE = "checksums.json"
#: What ``--resume`` reads from a checkpoint.
RESUME_FILES = (WEIGHTS_FILE, STATE_FILE, SPEC_FILENAME, RUN_CONFIG_FILE)
#: ``epoch_003``, or ``epoch_003_1``, ``epoch_003_2``, ... for an epoch re-run after a resume.
CHECKPOINT_NAME = re.compile(r"epoch_(\d+)(?:_\d+)?")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or unreadable."""


def save_checkpoint(
    output_dir: str | os.PathLike,
    epoch: int,
    model: nn.Module,
    spec: DetectorSpec,
    training_state: dict[str, Any],
    is_best: bool,
) -> Path:
    """Write the checkpoint of ``epoch`` atomically, verify it, and point ``last`` (and ``best``) at it.

    The checkpoint that ``last`` named before is kept as the fallback; checkpoints that no link
    names any more are removed, once the new one is in place.
    """
    output = Path(output_dir)
    checkpoints = output / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    final = checkpoints / f"epoch_{epoch:03d}"
    staging = checkpoints / f".staging_epoch_{epoch:03d}_{os.getpid()}"
    staging.mkdir()
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    training_bytes = io.BytesIO()
    torch.save(training_state, training_bytes)
    contents = {
        WEIGHTS_FILE: safetensors.torch.save(state),
        STATE_FILE: training_bytes.getvalue(),
        RUN_CONFIG_FILE: json.dumps(training_state["config"], indent=2).encode(),
    }
    for name, data in contents.items():
        (staging / name).write_bytes(data)
    checksums = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    checksums[SPEC_FILENAME] = read_sha256(spec.save(staging))
    (staging / CHECKSUMS_FILE).write_text(json.dumps(checksums, indent=2))
    for path in staging.iterdir():
        _fsync(path)
    verify_checkpoint(staging)  # the files read back are the ones meant to be written
    rerun = 1
    while final.exists():
        # A re-run of this epoch after a resume, and a link may point here: save under a new name and
        # move the links first, so that they always point at a complete checkpoint.
        final, rerun = checkpoints / f"epoch_{epoch:03d}_{rerun}", rerun + 1
    os.replace(staging, final)
    _fsync(checkpoints)
    previous = _target(output / "last")
    _point(output / "last", final)
    if is_best:
        _point(output / "best", final)
    _fsync(output)
    _remove_unreferenced(checkpoints, {final.resolve(), previous, _target(output / "best")})
    return final


def verify_checkpoint(path: str | os.PathLike, files: Collection[str] = RESUME_FILES) -> None:
    """Check that ``files`` of the checkpoint at ``path`` are there and undamaged, or raise :class:`CheckpointError`.

    Each file is compared with the sha256 recorded when the checkpoint was written (checkpoints
    of earlier versions record none), and the weights file's header must parse, which a
    truncated file fails. ``--resume`` checks every file; ``evaluate``, ``predict`` and the
    exports check the weights and ``detector.json`` they read.
    """
    path = Path(path)
    missing = [name for name in files if not (path / name).is_file()]
    if missing:
        raise CheckpointError(f"{path} is incomplete: {', '.join(missing)} missing.")
    for name, digest in _recorded_checksums(path).items():
        if name in files and read_sha256(path / name) != digest:
            raise CheckpointError(
                f"{path / name} is corrupt or truncated: its sha256 differs from the one recorded when it was written."
            )
    try:
        with safe_open(str(path / WEIGHTS_FILE), framework="pt"):
            pass
    except Exception as error:
        raise CheckpointError(f"{path / WEIGHTS_FILE} is corrupt or truncated ({error}).") from error


def _recorded_checksums(path: Path) -> dict[str, str]:
    """The sha256 per file that ``checksums.json`` recorded ({} for checkpoints of earlier versions)."""
    file = path / CHECKSUMS_FILE
    if not file.is_file():
        return {}
    try:
        recorded = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise CheckpointError(f"{file} is corrupt or truncated ({type(error).__name__}: {error}).") from error
    if not isinstance(recorded, dict) or not all(
        name in RESUME_FILES and isinstance(digest, str) for name, digest in recorded.items()
    ):
        raise CheckpointError(
            f"{file} is corrupt: it must map the checkpoint's files {RESUME_FILES} to sha256 digests."
        )
    return recorded


def checkpoint_candidates(output_dir: str | os.PathLike) -> list[Path]:
    """A run's checkpoints, the one ``last`` names first, then the others newest first (by epoch).

    ``last`` comes first even when others have higher epochs: those belong to a branch that a
    ``--resume PATH`` from an earlier checkpoint abandoned (see :func:`continue_from`).
    """
    output = Path(output_dir)
    last = _target(output / "last")

    def order(path: Path) -> tuple[bool, int, str]:
        return path.resolve() == last, int(CHECKPOINT_NAME.fullmatch(path.name).group(1)), path.name

    found = [path for path in (output / "checkpoints").glob("epoch_*") if CHECKPOINT_NAME.fullmatch(path.name)]
    return sorted(found, key=order, reverse=True)


def is_own_checkpoint(output_dir: str | os.PathLike, checkpoint: Path) -> bool:
    """Whether ``checkpoint`` (or the link naming it) is one of the run in ``output_dir``'s own checkpoints."""
    return checkpoint.resolve().parent == (Path(output_dir) / "checkpoints").resolve()


def continue_from(output_dir: str | os.PathLike, checkpoint: Path) -> None:
    """Make ``checkpoint``, one of the run's own, the one the run continues from: point ``last`` at it.

    Resuming from an earlier checkpoint (``--resume OUTPUT/best``) abandons the later ones. With
    ``last`` moved, a plain ``--resume`` after a kill continues the branch the user chose, and the
    abandoned checkpoints are removed once the resumed run has saved its first one.
    """
    output = Path(output_dir)
    if is_own_checkpoint(output, checkpoint) and _target(output / "last") is not None:
        _point(output / "last", checkpoint.resolve())


def newest_intact_checkpoint(output_dir: str | os.PathLike) -> tuple[Path, list[tuple[Path, str]]]:
    """The first of :func:`checkpoint_candidates` that passes :func:`verify_checkpoint`, and those skipped, with why."""
    output = Path(output_dir)
    skipped = []
    for candidate in checkpoint_candidates(output):
        try:
            verify_checkpoint(candidate)
        except CheckpointError as error:
            skipped.append((candidate, str(error)))
            continue
        return candidate, skipped
    if not skipped:
        raise CheckpointError(f"{output} holds no checkpoint to resume: start the run without --resume.")
    reasons = "; ".join(reason for _, reason in skipped)
    raise CheckpointError(f"No checkpoint of {output} is intact ({reasons}). Start afresh with another --output.")


def retarget_links(output_dir: str | os.PathLike, damaged: Collection[Path], checkpoint: Path) -> None:
    """Point the ``last`` / ``best`` links that name a ``damaged`` checkpoint at ``checkpoint`` instead."""
    output = Path(output_dir)
    damaged = {path.resolve() for path in damaged}
    for link in (output / "last", output / "best"):
        if _target(link) in damaged:
            _point(link, checkpoint)


def remove_staging_leftovers(output_dir: str | os.PathLike) -> None:
    """Delete the half-written checkpoints of runs killed while saving one.

    Call it only while holding the run's :class:`~wnlb_zoo.engine.run_lock.RunLock`: then no other
    run can be writing into the directory, and every staging folder is a dead run's.
    """
    for leftover in (Path(output_dir) / "checkpoints").glob(".staging_*"):
        shutil.rmtree(leftover, ignore_errors=True)


#: What ``--checkpoint``, ``--resume PATH`` and ``weights export --run`` accept, as error messages say it.
ACCEPTED_CHECKPOINTS = (
    "a run directory (OUT, read through its last link), a checkpoint directory (OUT/checkpoints/epoch_NNN), "
    "its last or best link, the model.safetensors inside one, or an export (OUT/export/detector)"
)


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The directory of detector weights ``path`` names, resolved (links followed).

    Accepted, as a user points at them: a run's output directory (its ``last`` checkpoint), a
    checkpoint directory, its ``last`` / ``best`` link, the ``model.safetensors`` file inside a
    checkpoint directory, and a detector export (``OUT/export/detector``, or ``OUT/export``).
    Anything else is a :class:`CheckpointError` that lists what is accepted.
    """
    given = Path(path)
    if not given.exists():
        raise CheckpointError(f"Checkpoint {given} does not exist. A checkpoint is {ACCEPTED_CHECKPOINTS}.")
    directory = given.parent if given.is_file() and given.name == WEIGHTS_FILE else given
    if directory.is_dir() and not (directory / WEIGHTS_FILE).exists():
        for inner in ("last", "detector"):  # a run directory, an export's top folder
            if (directory / inner / WEIGHTS_FILE).exists():
                directory = directory / inner
                break
    directory = directory.resolve()
    if not directory.is_dir() or not (directory / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{given} is not a checkpoint. A checkpoint is {ACCEPTED_CHECKPOINTS}.")
    if not (directory / SPEC_FILENAME).is_file():
        raise CheckpointError(
            f"Checkpoint {directory} is incomplete: {SPEC_FILENAME} missing (a wnlb-zoo checkpoint or export has "
            f"{WEIGHTS_FILE} and {SPEC_FILENAME} side by side)."
        )
    return directory


def load_model_weights(checkpoint: Path, model: nn.Module) -> None:
    """Load a checkpoint's detector weights strictly, with errors that name the file."""
    weights = checkpoint / WEIGHTS_FILE
    try:
        state = load_state_dict_file(weights)
    except (StateDictFileError, OSError) as error:
        raise CheckpointError(
            f"Cannot read {weights}: {error} The checkpoint is corrupt or truncated; resume from another "
            "checkpoint (checkpoints/epoch_*) or start afresh without --resume."
        ) from error
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(f"{weights} does not fit the model built from its detector.json: {error}") from error


def load_detector(
    checkpoint: str | os.PathLike,
    min_size: int | None = None,
    max_size: int | None = None,
    interpolation: str | None = None,
) -> tuple[nn.Module, DetectorSpec, Path]:
    """Rebuild the detector of a checkpoint (see :func:`resolve_checkpoint`) with its verified weights.

    ``min_size``, ``max_size`` and ``interpolation`` replace the detector's own resizing (e.g. to
    score at the LIS protocol a model trained at another size); None keeps the run's. The returned
    spec is the one the model was built from, overrides included.
    """
    path = resolve_checkpoint(checkpoint)
    verify_checkpoint(path, (WEIGHTS_FILE, SPEC_FILENAME))
    spec = DetectorSpec.load(path)
    overrides = {"min_size": min_size, "max_size": max_size, "interpolation": interpolation}
    spec = dataclasses.replace(spec, **{name: value for name, value in overrides.items() if value is not None})
    model = spec.build()
    load_model_weights(path, model)
    return model, spec, path


def load_run_config(checkpoint: Path) -> dict[str, Any]:
    """The configuration of the run that wrote ``checkpoint`` ({} for checkpoints without one)."""
    path = checkpoint / RUN_CONFIG_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def load_training_state(checkpoint: Path) -> dict[str, Any]:
    """Read ``training_state.pt``, with a clear error when it is missing or damaged."""
    path = checkpoint / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: this checkpoint holds weights only and cannot be resumed.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"Cannot read {path}: {error}. The checkpoint is corrupt or truncated; resume from another "
            "checkpoint (checkpoints/epoch_*) or start afresh without --resume."
        ) from error


def _point(link: Path, target: Path) -> None:
    """Make ``link`` a relative symlink to ``target``, replacing any old one atomically."""
    staging = link.with_name(f".{link.name}.{os.getpid()}")
    staging.unlink(missing_ok=True)
    staging.symlink_to(os.path.relpath(target, link.parent), target_is_directory=True)
    os.replace(staging, link)


def _target(link: Path) -> Path | None:
    return link.resolve() if link.is_symlink() else None


def _remove_unreferenced(checkpoints: Path, keep: set[Path | None]) -> None:
    for path in checkpoints.glob("epoch_*"):
        if path.resolve() not in keep:
            shutil.rmtree(path, ignore_errors=True)


def _fsync(path: Path) -> None:
    """Flush a file's, or a directory's (its entries'), data to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
