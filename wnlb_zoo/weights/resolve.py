"""Find the weight file behind ``pretrained=True``, offline first, and fail fast when there is none.

Order, for a registered ``arch.tag``:

1. an explicit file: ``pretrained_cfg_overlay=dict(file=...)`` (timm loads it as given);
2. a local mirror: ``$WNLB_ZOO_WEIGHTS/<arch.tag>/model.safetensors``;
3. the Hugging Face cache, then the hub itself unless ``HF_HUB_OFFLINE`` is set; a hub that does
   not answer within ``WNLB_ZOO_HUB_TIMEOUT`` seconds (default 10) counts as unreachable, so an
   air-gapped or firewalled machine gets an answer in seconds (:mod:`wnlb_zoo.weights.hub`).

Anything else raises :class:`PretrainedWeightsNotFound`, whose message names what was looked for
and the ways to provide it offline. ``hf-hub:`` and ``local-dir:`` model names are left to timm.

Whichever file is found, an explicit one included, must read as a weights file: a missing, empty,
truncated or non-checkpoint file raises :class:`~wnlb_zoo.weights.state_dict_file.StateDictFileError`
(or ``FileNotFoundError``) naming it, instead of timm's errors that name no file. A tag with a
manifest record (:mod:`wnlb_zoo.weights.manifest`) is a published weight: its file must also have
the recorded sha256, else :class:`~wnlb_zoo.weights.integrity.WeightIntegrityError` is raised
before anything is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .hub import find_hub_file
from .integrity import verify_file
from .manifest import find_record
from .state_dict_file import check_state_dict_file

MIRROR_ENV = "WNLB_ZOO_WEIGHTS"
WEIGHTS_FILENAME = "model.safetensors"


class PretrainedWeightsNotFound(FileNotFoundError):
    """No source of a model's pretrained weights could be reached."""


def mirror_path(name: str, mirror: str | os.PathLike | None = None) -> Path | None:
    """Where the local mirror keeps ``name`` (``arch.tag``), or None when no mirror is configured."""
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV)
    if not mirror:
        return None
    return Path(mirror).expanduser() / name / WEIGHTS_FILENAME


def resolve_pretrained_file(pretrained_cfg: dict[str, Any], cache_dir: str | os.PathLike | None = None) -> Path | None:
    """Return the local file to load for a resolved timm ``pretrained_cfg``, verified if published.

    Args:
        pretrained_cfg: The resolved cfg (``architecture`` and ``tag`` name the weight).
        cache_dir: Hugging Face cache directory (timm's ``cache_dir``); default huggingface_hub's.

    Returns None when timm should load the weights itself (an explicit ``file``, after its checks, or
    ``state_dict``, or ``hf-hub:``/``local-dir:`` sources). Raises :class:`PretrainedWeightsNotFound`
    when no source can be reached, ``StateDictFileError`` when the file is not a readable weights
    file, and ``WeightIntegrityError`` when a file for a manifest tag does not have the recorded sha256.
    """
    if pretrained_cfg.get("state_dict") is not None or pretrained_cfg.get("source") in ("hf-hub", "local-dir"):
        return None
    name = f"{pretrained_cfg.get('architecture')}.{pretrained_cfg.get('tag')}"
    record = find_record(name)
    explicit = pretrained_cfg.get("file")
    if explicit:
        found = Path(explicit)
    else:
        found, tried = _locate(name, pretrained_cfg, cache_dir)
        if found is None:
            repo_id = pretrained_cfg.get("hf_hub_id")
            filename = pretrained_cfg.get("hf_hub_filename") or WEIGHTS_FILENAME
            raise PretrainedWeightsNotFound(_not_found_message(name, repo_id, filename, tried))
    check_state_dict_file(found)
    if record is not None:
        verify_file(found, record)
    return None if explicit else found


def _locate(
    name: str, pretrained_cfg: dict[str, Any], cache_dir: str | os.PathLike | None
) -> tuple[Path | None, list[str]]:
    """The mirror file, else the hub file (cache first); with what was tried when neither is found."""
    tried = []
    mirrored = mirror_path(name)
    if mirrored is None:
        tried.append(f"local mirror: ${MIRROR_ENV} is not set")
    elif mirrored.is_file():
        return mirrored, tried
    else:
        tried.append(f"local mirror: {mirrored} does not exist")

    repo_id = pretrained_cfg.get("hf_hub_id")
    filename = pretrained_cfg.get("hf_hub_filename") or WEIGHTS_FILENAME
    if not repo_id:
        tried.append("Hugging Face hub: this tag names no hub repo")
        return None, tried
    found, reason = find_hub_file(repo_id, filename, cache_dir)
    if found is None:
        tried.append(f"Hugging Face hub: {repo_id}/{filename}: {reason}")
    return found, tried


def _not_found_message(name: str, repo_id: str | None, filename: str, tried: list[str]) -> str:
    lines = [f"Pretrained weights for '{name}' were not found. Looked at:"]
    lines += [f"  - {entry}" for entry in tried]
    lines += [
        "To load them offline, do one of:",
        f"  - pass the file: timm.create_model('{name}', pretrained=True, "
        "pretrained_cfg_overlay=dict(file='/path/to/model.safetensors'))",
        f"  - put it in a mirror: ${MIRROR_ENV}=/dir with /dir/{name}/{WEIGHTS_FILENAME}",
    ]
    if repo_id:
        lines.append(
            f"  - fill the Hugging Face cache on a connected machine "
            f"(hf download {repo_id} {filename}) and copy it over, then set HF_HUB_OFFLINE=1"
        )
    lines.append("Or build the model without weights: pretrained=False.")
    return "\n".join(lines)
