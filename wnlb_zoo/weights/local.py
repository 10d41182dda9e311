"""Where a published weight exists on this machine (local mirror, Hugging Face cache), and whether it is intact.

Used by ``wnlb-zoo weights list`` (availability column) and ``wnlb-zoo weights verify``; looking
never touches the network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import try_to_load_from_cache

from .integrity import sha256_file
from .records import WeightRecord
from .resolve import mirror_path


@dataclass(frozen=True)
class LocalCopy:
    """One file of a published weight on this machine; ``source`` is ``'mirror'`` or ``'hf-cache'``."""

    source: str
    path: Path


@dataclass(frozen=True)
class CopyCheck:
    """The sha256 of a local copy against its record."""

    copy: LocalCopy
    expected_sha256: str
    actual_sha256: str

    @property
    def ok(self) -> bool:
        return self.actual_sha256 == self.expected_sha256


def local_copies(
    record: WeightRecord,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> list[LocalCopy]:
    """The record's file in the mirror (``$WNLB_ZOO_WEIGHTS`` or ``mirror``) and in the HF cache, where present."""
    copies = []
    mirrored = mirror_path(record.name, mirror)
    if mirrored is not None and mirrored.is_file():
        copies.append(LocalCopy("mirror", mirrored))
    cached = try_to_load_from_cache(record.repo_id, record.filename, cache_dir=cache_dir)
    if isinstance(cached, str):
        copies.append(LocalCopy("hf-cache", Path(cached)))
    return copies


def check_local_copies(
    record: WeightRecord,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> list[CopyCheck]:
    """Hash every local copy of the record's weight; an empty list when there is none."""
    return [CopyCheck(copy, record.sha256, sha256_file(copy.path)) for copy in local_copies(record, mirror, cache_dir)]
