"""The weights manifest: the directory of published-weight records, and the timm tags built from it.

Every published weight ``<architecture>.<tag>`` has a record ``<architecture>.<tag>.json``
(:class:`~wnlb_zoo.weights.records.WeightRecord`) in the manifest directory (``weights_manifest/``
of the source tree, or ``$WNLB_ZOO_MANIFEST``). This module finds, reads and writes them; the
record itself is in :mod:`~wnlb_zoo.weights.records`, its validation in
:mod:`~wnlb_zoo.weights.record_schema`, its timm cfg in :mod:`~wnlb_zoo.weights.timm_cfg` (their
names are importable from here too).

The package's timm ``default_cfgs`` take their trained tags from here (:func:`manifest_cfgs`), so the
manifest is the one source of truth for which weights exist. They are read when ``wnlb_zoo`` is
imported, so a bad file must not break the import (and with it every command, ``--help``
included): lookups skip an invalid record, or a missing ``$WNLB_ZOO_MANIFEST`` directory, with a
:class:`ManifestWarning` naming it, and ``wnlb-zoo weights list``/``verify`` show it as invalid.
Every lookup reads the directory as it is: a manifest of records parses in milliseconds.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The names below were all defined here before the record, its schema and its timm cfg got modules of
# their own: they stay importable from here.
from .record_schema import parse_evaluation, parse_record  # noqa: F401
from .records import MANIFEST_VERSION, Evaluation, ManifestError, ManifestWarning, WeightRecord  # noqa: F401
from .timm_cfg import PAPER_ID, record_cfg  # noqa: F401

MANIFEST_ENV = "WNLB_ZOO_MANIFEST"


@dataclass(frozen=True)
class InvalidEntry:
    """A record file (or the manifest directory itself) that cannot be used; ``problem`` names it."""

    path: Path
    problem: str


@dataclass(frozen=True)
class ManifestScan:
    """What a manifest directory holds: the records that validate, and the entries that do not."""

    directory: Path
    records: dict[str, WeightRecord]
    invalid: tuple[InvalidEntry, ...]


def manifest_dir() -> Path:
    """The manifest directory: ``$WNLB_ZOO_MANIFEST`` if set, else the one installed with the package
    (``wnlb_zoo/weights_manifest/`` in a wheel), else ``weights_manifest/`` of the source tree."""
    configured = os.environ.get(MANIFEST_ENV)
    if configured:
        return Path(configured).expanduser()
    package = Path(__file__).resolve().parents[1]
    installed = package / "weights_manifest"
    return installed if installed.is_dir() else package.parent / "weights_manifest"


def scan_manifest(directory: str | os.PathLike | None = None) -> ManifestScan:
    """Read every record of a manifest directory; an invalid one is reported, never raised.

    Args:
        directory: The manifest directory; default :func:`manifest_dir`.

    The default directory may be absent (a package installed without its source tree): no records.
    A directory named explicitly (argument or ``$WNLB_ZOO_MANIFEST``) that does not exist is itself
    an invalid entry.
    """
    explicit = directory is not None or bool(os.environ.get(MANIFEST_ENV))
    path = Path(directory) if directory is not None else manifest_dir()
    if not path.is_dir():
        problem = (
            f"Manifest directory {path} does not exist: point {MANIFEST_ENV} (or the directory argument) "
            "at a folder of <architecture>.<tag>.json records."
        )
        return ManifestScan(path, {}, (InvalidEntry(path, problem),) if explicit else ())
    records, invalid = {}, []
    for file in sorted(path.glob("*.json")):
        try:
            record = read_record(file)
        except ManifestError as error:
            invalid.append(InvalidEntry(file, str(error)))
        else:
            records[record.name] = record
    return ManifestScan(path, records, tuple(invalid))


def load_manifest(directory: str | os.PathLike | None = None) -> dict[str, WeightRecord]:
    """Every record of a manifest directory, keyed by ``architecture.tag``; raise on the first invalid entry.

    The strict read, for validating a manifest; :func:`scan_manifest` reports invalid entries instead.
    """
    scan = scan_manifest(directory)
    if scan.invalid:
        raise ManifestError(scan.invalid[0].problem)
    return scan.records


def usable_records(directory: str | os.PathLike | None = None) -> dict[str, WeightRecord]:
    """The valid records, with a :class:`ManifestWarning` for each invalid entry (shown once per entry).

    What the timm tags and pretrained loading use: one bad file disables only itself.
    """
    scan = scan_manifest(directory)
    for entry in scan.invalid:
        warnings.warn(
            f"{entry.problem} Ignored: the other records and every model still work "
            "(`wnlb-zoo weights list` lists the invalid entries).",
            ManifestWarning,
            stacklevel=3,
        )
    return scan.records


def find_record(name: str, directory: str | os.PathLike | None = None) -> WeightRecord | None:
    """The record of ``architecture.tag``, or None when the manifest has none (or only an invalid one)."""
    return usable_records(directory).get(name)


def manifest_cfgs(architecture: str, directory: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """timm pretrained cfgs ``architecture.<tag>`` of the architecture's manifest records.

    Newest first (by record date, then name), so that with ``generate_default_cfgs`` the newest
    published weight becomes the architecture's default tag.
    """
    records = [record for record in usable_records(directory).values() if record.architecture == architecture]
    records.sort(key=lambda record: record.name)
    records.sort(key=lambda record: record.date, reverse=True)
    return {record.name: record_cfg(record) for record in records}


def write_record(record: WeightRecord, directory: str | os.PathLike) -> Path:
    """Validate ``record`` and write it as ``<directory>/<architecture>.<tag>.json``; return the path."""
    path = Path(directory) / f"{record.name}.json"
    parse_record(record.to_json(), path)
    path.write_text(json.dumps(record.to_json(), indent=2) + "\n", encoding="utf-8")
    return path


def read_record(path: str | os.PathLike) -> WeightRecord:
    """Read and validate one record file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # ValueError: bad JSON or not UTF-8 text at all
        raise ManifestError(f"{path}: not a readable JSON file ({type(error).__name__}: {error}).") from error
    return parse_record(data, path)
