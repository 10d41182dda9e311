"""The weights manifest: one JSON record per published weight, and the timm tags built from it.

Every published weight ``<architecture>.<tag>`` has a record ``<architecture>.<tag>.json`` in the
manifest directory (``weights_manifest/`` of the source tree, or ``$WNLB_ZOO_MANIFEST``). The
record says where the file is (hub repo + filename), proves which file it is (sha256 + size), how
to rebuild the model (``model_kwargs``, timm ``pretrained_cfg``), where it came from (base weights,
training data, the exact training command) and what it scores. It is plain JSON, read here with the
standard library; ``weights_manifest/README.md`` documents the fields.

The package's timm ``default_cfgs`` take their trained tags from here (:func:`manifest_cfgs`), so the
manifest is the one source of truth for which weights exist. They are read when ``wnlb_zoo`` is
imported, so a bad file must not break the import (and with it every command, ``--help``
included): lookups skip an invalid record, or a missing ``$WNLB_ZOO_MANIFEST`` directory, with a
:class:`ManifestWarning` naming it, and ``wnlb-zoo weights list``/``verify`` show it as invalid.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timm.models import PretrainedCfg

MANIFEST_ENV = "WNLB_ZOO_MANIFEST"
MANIFEST_VERSION = 1
PAPER_ID = "arXiv:2402.18307"

#: timm pretrained-cfg keys a record may not set: the weight source and identity come from the record.
_SOURCE_KEYS = frozenset({"url", "file", "state_dict", "hf_hub_id", "hf_hub_filename", "source", "architecture", "tag"})
_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_REPO_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ManifestError(ValueError):
    """A manifest record is missing, malformed or inconsistent; the message names the file and field."""


class ManifestWarning(UserWarning):
    """A manifest entry is invalid and ignored; the other records and every model still work."""


@dataclass(frozen=True)
class Evaluation:
    """Detection (and segmentation) AP of one detector built on the weight, on one dataset split.

    AP values are COCO-style percentages (0-100). Mask values are None for box-only detectors.
    """

    detector: str
    dataset: str
    split: str
    box_ap: float
    box_ap50: float
    box_ap75: float
    mask_ap: float | None = None
    mask_ap50: float | None = None
    mask_ap75: float | None = None


@dataclass(frozen=True)
class WeightRecord:
    """One published weight, as stored in ``<architecture>.<tag>.json``."""

    architecture: str
    tag: str
    repo_id: str
    filename: str
    sha256: str
    size: int
    format: str
    model_kwargs: dict[str, Any]
    pretrained_cfg: dict[str, Any]
    base_weights: str | None
    training_data: tuple[str, ...]
    recipe: str
    metrics: tuple[Evaluation, ...]
    license: str
    date: str
    notes: str = ""

    @property
    def name(self) -> str:
        """The timm model name with tag, ``architecture.tag``."""
        return f"{self.architecture}.{self.tag}"

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON object stored in the manifest."""
        data = dataclasses.asdict(self)
        data["training_data"] = list(self.training_data)
        data["metrics"] = [dataclasses.asdict(evaluation) for evaluation in self.metrics]
        return {"manifest_version": MANIFEST_VERSION, **data}


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


def record_cfg(record: WeightRecord) -> dict[str, Any]:
    """The timm pretrained cfg of a record: its ``pretrained_cfg`` plus the hub location and licence."""
    cfg = {key: tuple(value) if isinstance(value, list) else value for key, value in record.pretrained_cfg.items()}
    cfg.update(
        hf_hub_id=record.repo_id,
        hf_hub_filename=record.filename,
        license=record.license,
        paper_ids=PAPER_ID,
        notes=(f"Trained on {', '.join(record.training_data)}; manifest record {record.name}.json.",),
    )
    return cfg


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


def parse_record(data: Any, path: str | os.PathLike) -> WeightRecord:
    """Validate a record's JSON object; ``path`` names the file in errors and fixes its expected name."""
    fields = _Fields(data, str(path))
    version = fields.take("manifest_version", _integer)
    if version != MANIFEST_VERSION:
        raise fields.error("manifest_version", f"this version of wnlb-zoo reads version {MANIFEST_VERSION}")
    record = WeightRecord(
        architecture=fields.take("architecture", _identifier),
        tag=fields.take("tag", _identifier),
        repo_id=fields.take("repo_id", _repo_id),
        filename=fields.take("filename", _safetensors_name),
        sha256=fields.take("sha256", _sha256),
        size=fields.take("size", _positive_integer),
        format=fields.take("format", _safetensors_format),
        model_kwargs=fields.take("model_kwargs", _json_object),
        pretrained_cfg=fields.take("pretrained_cfg", _pretrained_cfg),
        base_weights=fields.take("base_weights", _optional_text),
        training_data=tuple(fields.take("training_data", _text_list)),
        recipe=fields.take("recipe", _text),
        metrics=tuple(
            parse_evaluation(item, f"metrics[{index}]", str(path))
            for index, item in enumerate(fields.take("metrics", _non_empty_list))
        ),
        license=fields.take("license", _text),
        date=fields.take("date", _iso_date),
        notes=fields.take("notes", _text_or_empty, default=""),
    )
    fields.reject_unknown()
    expected_name = f"{record.name}.json"
    if Path(path).name != expected_name:
        raise ManifestError(f"{path}: the record of {record.name} must be named {expected_name}.")
    return record


class _Fields:
    """Takes validated fields out of a record's JSON object, naming the file and field on error."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise ManifestError(f"{path}: a record must be a JSON object, got {type(data).__name__}.")
        self.data = data
        self.path = path
        self.seen: set[str] = set()

    def error(self, field: str, problem: str) -> ManifestError:
        return ManifestError(f"{self.path}: field '{field}': {problem}.")

    def take(self, key: str, check: Callable[[Any], str], default: Any = ...) -> Any:
        if key not in self.data:
            if default is not ...:
                return default
            raise self.error(key, "missing")
        value = self.data[key]
        problem = check(value)
        if problem:
            raise self.error(key, f"{problem}, got {value!r}")
        self.seen.add(key)
        return value

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise self.error(unknown[0], "unknown field (a typo?); see weights_manifest/README.md for the fields")


def parse_evaluation(item: Any, field: str, source: str) -> Evaluation:
    """Validate one evaluation object; errors read ``<source>: field '<field>.<name>': <problem>``.

    Args:
        item: The JSON object.
        field: Its place, e.g. ``metrics[0]``.
        source: What it was read from (a record file, a command-line option).
    """

    def error(name: str, problem: str) -> ManifestError:
        return ManifestError(f"{source}: field '{field}{name}': {problem}.")

    if not isinstance(item, dict):
        raise error("", f"an object with the fields of one evaluation, got {item!r}")
    names = [entry.name for entry in dataclasses.fields(Evaluation)]
    unknown = sorted(set(item) - set(names))
    if unknown:
        raise error(f".{unknown[0]}", f"unknown field; allowed: {', '.join(names)}")
    values = {}
    for name in names:
        if name.startswith("mask_") and item.get(name) is None:
            values[name] = None
            continue
        if name not in item:
            raise error(f".{name}", "missing")
        problem = (_text if name in ("detector", "dataset", "split") else _percentage)(item[name])
        if problem:
            raise error(f".{name}", f"{problem}, got {item[name]!r}")
        values[name] = item[name]
    return Evaluation(**values)


def _text(value: Any) -> str:
    return "" if isinstance(value, str) and value.strip() else "a non-empty string"


def _non_empty_list(value: Any) -> str:
    return "" if isinstance(value, list) and value else "a non-empty list of evaluations"


def _text_or_empty(value: Any) -> str:
    return "" if isinstance(value, str) else "a string"


def _optional_text(value: Any) -> str:
    return "" if value is None else _text(value)


def _text_list(value: Any) -> str:
    ok = isinstance(value, list) and value and all(not _text(item) for item in value)
    return "" if ok else "a non-empty list of non-empty strings"


def _identifier(value: Any) -> str:
    ok = isinstance(value, str) and _NAME_PATTERN.match(value)
    return "" if ok else "lower-case letters, digits and underscores"


def _repo_id(value: Any) -> str:
    ok = isinstance(value, str) and _REPO_PATTERN.match(value) and ".." not in value and "--" not in value
    return "" if ok else "a Hugging Face repo id 'org/name'"


def _safetensors_name(value: Any) -> str:
    ok = isinstance(value, str) and value.endswith(".safetensors") and not {"/", "\\"} & set(value)
    return "" if ok else "a plain file name ending in .safetensors, the file at the repo root (no folder, not absolute)"


def _sha256(value: Any) -> str:
    ok = isinstance(value, str) and _SHA256_PATTERN.match(value)
    return "" if ok else "64 lower-case hex digits"


def _integer(value: Any) -> str:
    return "" if isinstance(value, int) and not isinstance(value, bool) else "an integer"


def _positive_integer(value: Any) -> str:
    return "" if not _integer(value) and value > 0 else "a positive integer (bytes)"


def _safetensors_format(value: Any) -> str:
    return "" if value == "safetensors" else "'safetensors' (the only format published)"


def _json_object(value: Any) -> str:
    return "" if isinstance(value, dict) else "a JSON object"


def _pretrained_cfg(value: Any) -> str:
    if not isinstance(value, dict):
        return "a JSON object of timm PretrainedCfg fields"
    allowed = {field.name for field in dataclasses.fields(PretrainedCfg)} - _SOURCE_KEYS
    bad = sorted(set(value) - allowed)
    if bad:
        return f"key {bad[0]!r} is not a timm PretrainedCfg field a record may set (the source comes from the record)"
    return ""


def _percentage(value: Any) -> str:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return "" if number and 0 <= value <= 100 else "a number between 0 and 100 (AP in percent)"


def _iso_date(value: Any) -> str:
    if isinstance(value, str) and _DATE_PATTERN.match(value):
        try:
            datetime.date.fromisoformat(value)
            return ""
        except ValueError:
            pass
    return "an ISO date YYYY-MM-DD"
