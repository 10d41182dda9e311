"""Prove that a weight file is the one a manifest record published: streamed sha256 and size.

Hashing a large checkpoint takes seconds, so digests are remembered in-process per
(path, size, modification time): loading the same verified file again is free, and a file that
changed on disk is hashed anew.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .records import WeightRecord

_CHUNK_BYTES = 1 << 20
_digests: dict[tuple[str, int, int], str] = {}


class WeightIntegrityError(RuntimeError):
    """A weight file is not the file its manifest record published; nothing was loaded from it."""


def read_sha256(path: str | os.PathLike) -> str:
    """The sha256 hex digest of a file's bytes as they are now, read in 1 MiB chunks (never cached).

    For files whose damage must be seen even when their size and modification time are unchanged
    (a fine-tuning checkpoint checked before a resume).
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """The sha256 hex digest of a file, cached per path, size and modification time (:func:`read_sha256`)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        _digests[key] = read_sha256(path)
    return _digests[key]


def verify_file(path: str | os.PathLike, record: WeightRecord) -> None:
    """Raise :class:`WeightIntegrityError` unless ``path`` has the record's sha256 (and so its size)."""
    actual = sha256_file(path)
    if actual == record.sha256:
        return
    size = Path(path).stat().st_size
    raise WeightIntegrityError(
        f"sha256 mismatch for {record.name}: {path}\n"
        f"  expected {record.sha256} ({record.size} bytes, manifest record {record.name}.json)\n"
        f"  actual   {actual} ({size} bytes)\n"
        "Nothing was loaded. The file is corrupt, truncated or a different weight: delete it and fetch it "
        f"again (wnlb-zoo weights pull {record.name}). To load a different weight on purpose, do not name "
        "the published tag: export it to a folder (wnlb-zoo weights export) and use timm.create_model('local-dir:DIR')."
    )
