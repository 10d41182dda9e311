"""The schema of a manifest record, checked by hand: every error names the file and the field.

A record is plain JSON read with the standard library. A JSON Schema validator (``jsonschema``)
would be a dependency the package does not have, for 17 fields and 9 per evaluation, and its errors
say which constraint failed, not what the value should be in a user's words (a timm
``PretrainedCfg`` field a record may not set, a file name with a folder in it). The checks are one
function per kind of value, returning "" for a valid value, else what it should be.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from timm.models import PretrainedCfg

from .records import MANIFEST_VERSION, Evaluation, ManifestError, WeightRecord

#: timm pretrained-cfg keys a record may not set: the weight source and identity come from the record.
_SOURCE_KEYS = frozenset({"url", "file", "state_dict", "hf_hub_id", "hf_hub_filename", "source", "architecture", "tag"})
_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_REPO_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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
