"""Check where a command will write *before* it does any work, so that nothing computed is lost.

A command that evaluates for an hour and then cannot write its result has wasted the hour; one
that fails half-way through writing a folder leaves a mess. The commands call these checks on
their output options first; each error names the option, the path and what to do.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


class OutputPathError(ValueError):
    """An output path that cannot be written (read-only, a file where a folder belongs, ...)."""


def writable_directory(path: str | os.PathLike, option: str) -> Path:
    """Create ``path`` (and its parents) if needed and prove it accepts a new file; return it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{option} {path} is a file, not a folder: choose a folder path.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise OutputPathError(f"{option} {path} cannot be written ({_reason(error)}): choose another folder.") from None
    return path


def writable_file(path: str | os.PathLike, option: str) -> Path:
    """Check that ``path`` can be created or replaced as a file (its folder is made if needed); return it."""
    return writable_files([path], option)[0]


def writable_files(paths: Iterable[str | os.PathLike], option: str) -> list[Path]:
    """:func:`writable_file` for many files, proving each distinct folder writable once (not once per file)."""
    paths = [Path(path) for path in paths]
    for path in paths:
        if path.is_dir():
            raise OutputPathError(f"{option} {path} is a folder: give a file name inside it instead.")
        if path.exists() and not os.access(path, os.W_OK):
            raise OutputPathError(f"{option} {path} exists and is read-only: choose another file name.")
    first_in_folder: dict[Path, Path] = {}
    for path in paths:
        first_in_folder.setdefault(path.parent, path)
    for parent, path in first_in_folder.items():
        if parent.exists() and not parent.is_dir():
            raise OutputPathError(f"{option} {path}: {parent} is a file, not a folder.")
        writable_directory(parent, option)
    return paths


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__
