"""Read weight files (``.safetensors``, or torch files with ``weights_only=True``) with errors that name the file.

The libraries' own errors do not say which file is bad (safetensors: "incomplete metadata, file
not fully covered"; timm: an empty ``FileNotFoundError``), and torch's answer to a file it cannot
unpickle is to retry with ``weights_only=False``: for a file of unknown origin that is the one
thing not to do, since unpickling it can run arbitrary code. Every weight file a user hands to
wnlb-zoo (``weights export --checkpoint``, detector ``weights=``, ``finetune --weights``, local
pretrained files) goes through :func:`load_state_dict_file` (or :func:`check_state_dict_file`,
before timm loads a file itself); both raise :class:`StateDictFileError` naming the file and what
is wrong with it. The engine reads its own checkpoints through it too, once they have passed their
recorded checksums (:mod:`wnlb_zoo.engine.checkpoint`). Whether a state dict's keys fit its model
is the one strict key check of :mod:`wnlb_zoo.weights.state_dict_keys`.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

_UNPICKLER_REASON = re.compile(r"WeightsUnpickler error:\s*(.+?)(?:\.\s|\n|$)")


class StateDictFileError(ValueError):
    """A file that cannot be read as a state dict; the message names the file and what is wrong."""


def load_state_dict_file(
    path: str | os.PathLike, key: str | None = None, prefix: str = "", fallback_key: str | None = None
) -> dict[str, torch.Tensor]:
    """Read a state dict from a ``.safetensors`` or torch file, optionally from a sub-entry and a key prefix.

    Args:
        path: The file; ``.safetensors`` by its suffix, anything else is read by ``torch.load`` with
            ``weights_only=True``.
        key: Entry of a training checkpoint that holds the state dict (e.g. ``"model"``), torch files only.
        prefix: Keep only the keys starting with this prefix, with it removed (e.g. ``"backbone.body."``).
        fallback_key: Without ``key``: the entry to take when the file is not a state dict itself but a
            training checkpoint that has this entry (torchvision's reference scripts save ``"model"``),
            so a file that may be either is read once.
    """
    path = _existing_file(path)
    if _is_safetensors(path):
        if key is not None:
            raise StateDictFileError(f"{path} is a safetensors file: it holds one flat state dict, so pass no key.")
        state: Any = _read(path, safetensors.torch.load_file)
    else:
        state = _torch_load(path, mmap=False)
        if key is not None:
            if not isinstance(state, Mapping) or key not in state:
                found = sorted(state)[:10] if isinstance(state, Mapping) else type(state).__name__
                raise StateDictFileError(f"{path} has no entry '{key}'; its top-level entries: {found}.")
            state = state[key]
        elif fallback_key is not None and not _is_tensor_mapping(state) and isinstance(state, Mapping):
            state = state.get(fallback_key, state)
    if not _is_tensor_mapping(state):
        raise StateDictFileError(
            f"{path} holds a {type(state).__name__}, not a state dict of tensors: pass the key of the "
            "checkpoint entry that holds the weights."
        )
    if prefix:
        state = {name[len(prefix) :]: value for name, value in state.items() if name.startswith(prefix)}
        if not state:
            raise StateDictFileError(f"No key of {path} starts with '{prefix}': check the prefix of the backbone keys.")
    return dict(state)


def check_state_dict_file(path: str | os.PathLike) -> None:
    """Raise :class:`StateDictFileError` unless ``path`` reads as a weights file, without reading its tensor data.

    A safetensors file must have a well-formed header that its size covers; a torch file must
    unpickle with ``weights_only=True`` (memory-mapped, so its tensors are not read, for files in
    torch's zip format) into a mapping, as timm's loader expects.
    """
    path = _existing_file(path)
    if _is_safetensors(path):
        with _read(path, lambda file: safetensors.safe_open(file, framework="pt")):
            return
    state = _torch_load(path, mmap=zipfile.is_zipfile(path))
    if not isinstance(state, Mapping):
        raise StateDictFileError(f"{path} holds a {type(state).__name__}, not a state dict (a mapping of tensors).")


def _existing_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        raise FileNotFoundError(f"Weights file {path} {problem}.")
    if path.stat().st_size == 0:
        raise StateDictFileError(f"Weights file {path} is empty (0 bytes): the copy or download did not complete.")
    return path


def _is_tensor_mapping(state: Any) -> bool:
    return isinstance(state, Mapping) and all(isinstance(value, torch.Tensor) for value in state.values())


def _is_safetensors(path: Path) -> bool:
    return path.suffix == ".safetensors"


def _read(path: Path, reader: Any) -> Any:
    try:
        return reader(str(path))
    except safetensors.SafetensorError as error:
        raise StateDictFileError(
            f"{path} is not a valid safetensors file ({error}): it is truncated or corrupt; copy or download it again."
        ) from None


def _torch_load(path: Path, mmap: bool) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as error:  # torch raises many kinds (UnpicklingError, EOFError, OSError, KeyError, ...)
        match = _UNPICKLER_REASON.search(str(error)) if isinstance(error, pickle.UnpicklingError) else None
        reason = match.group(1).strip() if match else _describe(error)
        raise StateDictFileError(
            f"{path} is not a valid PyTorch checkpoint of tensors ({reason}): it is truncated or corrupt, or holds "
            "Python objects besides tensors. Do not load it with weights_only=False unless you trust where it came "
            "from: unpickling an untrusted file can run arbitrary code. Copy it again, or save the weights as a "
            "state dict (torch.save(model.state_dict(), ...)) or as .safetensors."
        ) from None


def _describe(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else f"{type(error).__name__}, the file ends too early"
