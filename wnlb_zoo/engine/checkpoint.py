"""Atomic training checkpoints, and resuming from them.

A checkpoint is a directory ``checkpoints/epoch_NNN/`` holding

* ``model.safetensors``: the detector's weights (what ``evaluate``, ``predict`` and the weights
  export read);
* ``training_state.pt``: optimiser, LR scheduler, AMP scaler, epoch, step, best metric and the RNG
  states (what ``--resume`` needs);
* ``detector.json``: the :class:`~wnlb_zoo.engine.detector_spec.DetectorSpec`;
* ``run_config.json``: the run's configuration (``evaluate`` reuses its data settings).

It is written into a temporary directory and renamed into place, and the ``last`` / ``best``
links next to ``checkpoints/`` are switched with an atomic rename: a run killed at any moment
leaves ``last`` pointing at a complete checkpoint.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .detector_spec import DetectorSpec

WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "training_state.pt"
RUN_CONFIG_FILE = "run_config.json"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or unreadable."""


def rng_states() -> dict[str, Any]:
    """The states of every random generator training touches, as tensors and plain Python values
    (so that ``training_state.pt`` loads with ``weights_only=True``)."""
    name, keys, position, has_gauss, cached = np.random.get_state()
    states = {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    name, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    random.setstate(tuple(item if not isinstance(item, list) else tuple(item) for item in states["python"]))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(
    output_dir: str | os.PathLike,
    epoch: int,
    model: nn.Module,
    spec: DetectorSpec,
    training_state: dict[str, Any],
    is_best: bool,
) -> Path:
    """Write the checkpoint of ``epoch`` atomically and point ``last`` (and ``best``) at it."""
    output = Path(output_dir)
    checkpoints = output / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    for leftover in checkpoints.glob(".staging_*"):  # from a save that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    final = checkpoints / f"epoch_{epoch:03d}"
    staging = checkpoints / f".staging_epoch_{epoch:03d}_{os.getpid()}"
    staging.mkdir()
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(staging / WEIGHTS_FILE))
    torch.save(training_state, staging / STATE_FILE)
    spec.save(staging)
    (staging / RUN_CONFIG_FILE).write_text(json.dumps(training_state["config"], indent=2))
    for path in staging.iterdir():
        _fsync(path)
    if final.exists():
        # A re-run of this epoch after a resume, and a link may point here: save under a new name and
        # move the links first, so that they always point at a complete checkpoint.
        final = checkpoints / f"epoch_{epoch:03d}_{os.getpid()}"
    os.replace(staging, final)
    _fsync(checkpoints)
    _point(output / "last", final)
    if is_best:
        _point(output / "best", final)
    _fsync(output)
    _remove_unreferenced(checkpoints, {_target(output / "last"), _target(output / "best")})
    return final


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The checkpoint directory ``path`` names: itself, a ``last``/``best`` link, or a run's output dir."""
    path = Path(path)
    if path.is_dir() and not (path / WEIGHTS_FILE).exists() and (path / "last").exists():
        path = path / "last"
    path = path.resolve()
    if not path.is_dir():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    missing = [name for name in (WEIGHTS_FILE, "detector.json") if not (path / name).is_file()]
    if missing:
        raise CheckpointError(f"Checkpoint {path} is incomplete: {', '.join(missing)} missing.")
    return path


def load_model_weights(checkpoint: Path, model: nn.Module) -> None:
    """Load a checkpoint's detector weights strictly, with errors that name the file."""
    weights = checkpoint / WEIGHTS_FILE
    try:
        state = load_file(str(weights))
    except Exception as error:
        raise CheckpointError(
            f"Cannot read {weights}: {error}. The checkpoint is corrupt or truncated; resume from another "
            "checkpoint (checkpoints/epoch_*) or start afresh without --resume."
        ) from error
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(f"{weights} does not fit the model built from its detector.json: {error}") from error


def load_detector(checkpoint: str | os.PathLike) -> tuple[nn.Module, DetectorSpec, Path]:
    """Rebuild the detector of a checkpoint (dir, ``last``/``best`` link or run dir) with its weights."""
    path = resolve_checkpoint(checkpoint)
    spec = DetectorSpec.load(path)
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
