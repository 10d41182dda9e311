"""Fetch a published weight into the local mirror, for machines that will load it offline.

``pull_weight('arch.tag')`` takes the file from the Hugging Face cache, or downloads it when the hub
is reachable, checks its sha256 against the manifest record and only then places it at
``$WNLB_ZOO_WEIGHTS/<arch.tag>/model.safetensors``. Copy that directory to an air-gapped machine
and ``pretrained=True`` finds it there first.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .hub import find_hub_file
from .integrity import sha256_file, verify_file
from .manifest import find_record, manifest_dir
from .resolve import MIRROR_ENV, PretrainedWeightsNotFound, mirror_path


def pull_weight(
    name: str,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """Place the verified file of manifest weight ``name`` in the mirror and return its path.

    Args:
        name: ``architecture.tag`` of a manifest record.
        mirror: Mirror directory; default ``$WNLB_ZOO_WEIGHTS``.
        cache_dir: Hugging Face cache directory; default huggingface_hub's.

    A mirror copy that already has the recorded sha256 is kept; a damaged one is replaced.
    """
    record = find_record(name)
    if record is None:
        raise ValueError(f"No manifest record '{name}' in {manifest_dir()}: see `wnlb-zoo weights list`.")
    target = mirror_path(name, mirror)
    if target is None:
        raise ValueError(f"No mirror directory: set ${MIRROR_ENV} (or pass --mirror) to where the weights should go.")
    if target.is_file() and sha256_file(target) == record.sha256:
        return target

    source, reason = find_hub_file(record.repo_id, record.filename, cache_dir)
    if source is None:
        raise PretrainedWeightsNotFound(
            f"Cannot pull {name}: {record.repo_id}/{record.filename} is {reason}. Run the pull on a machine "
            f"that reaches the Hugging Face hub, then copy {target.parent} over."
        )
    verify_file(source, record)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)
    return target
