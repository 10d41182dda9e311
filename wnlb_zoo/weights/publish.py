"""Publish an exported weight folder to the Hugging Face hub (``create_repo`` + ``upload_folder``).

The folder is validated first: the files of the timm hub layout are there, the manifest record
reads, names this repo and has the sha256 of the ``model.safetensors`` next to it, and no file is a
link to somewhere outside the folder (the upload would publish whatever it points at). The upload
plan lists exactly the files that go up, with sizes and hashes; ``dry_run=True`` returns it without
touching the network.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi, metadata_load

from .integrity import sha256_file, verify_file
from .manifest import read_record
from .records import WeightRecord

REQUIRED_FILES = ("model.safetensors", "config.json", "README.md")


@dataclass(frozen=True)
class UploadFile:
    """One file of the upload: its path relative to the folder, size in bytes and sha256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class UploadPlan:
    """What a publish uploads, and where."""

    repo_id: str
    folder: Path
    record: WeightRecord
    files: tuple[UploadFile, ...]

    def describe(self) -> str:
        """The plan as text: repo, then one line per file."""
        lines = [f"repo {self.repo_id} (model), weight {self.record.name}, from {self.folder}:"]
        width = max(len(file.path) for file in self.files)
        lines += [f"  {file.path:<{width}}  {file.size:>12,} bytes  sha256 {file.sha256}" for file in self.files]
        return "\n".join(lines)


def plan_upload(folder: str | os.PathLike, repo_id: str) -> UploadPlan:
    """Validate an exported folder for ``repo_id`` and list the files to upload; raise naming what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a directory: pass the --out directory of `wnlb-zoo weights export`.")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    records = [path for path in sorted(folder.glob("*.json")) if path.name != "config.json"]
    if missing or len(records) != 1:
        found = [path.name for path in records]
        raise FileNotFoundError(
            f"{folder} is not a complete export: missing {missing or 'nothing'}, manifest record(s) {found} "
            "(exactly one <architecture>.<tag>.json is needed). Export again with --tag, --repo-id and the "
            "training facts (`wnlb-zoo weights export`)."
        )
    record = read_record(records[0])
    if record.repo_id != repo_id:
        raise ValueError(
            f"{records[0]} publishes to {record.repo_id}, not {repo_id}: publish to {record.repo_id}, or export "
            f"again with --repo-id {repo_id} so that the manifest and the model card point at the right repo."
        )
    verify_file(folder / record.filename, record)
    architecture = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("architecture")
    if architecture != record.architecture:
        raise ValueError(f"{folder}/config.json builds {architecture}, but {records[0].name} records {record.name}.")
    if (metadata_load(folder / "README.md") or {}).get("library_name") != "timm":
        raise ValueError(f"{folder}/README.md has no model card front matter with library_name: timm; export again.")
    paths = [
        path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    _refuse_links_out_of(folder, paths)
    files = tuple(
        UploadFile(path.relative_to(folder).as_posix(), path.stat().st_size, sha256_file(path)) for path in paths
    )
    return UploadPlan(repo_id, folder, record, files)


def _refuse_links_out_of(folder: Path, paths: list[Path]) -> None:
    """Raise if a file of the upload resolves (through symbolic links) to a place outside ``folder``."""
    root = folder.resolve()
    outside = [path for path in paths if not path.resolve().is_relative_to(root)]
    if outside:
        listed = ", ".join(f"{path.relative_to(folder)} -> {path.resolve()}" for path in outside)
        raise ValueError(
            f"{folder} links to files outside it ({listed}): an upload would publish them. Copy the files "
            "into the folder, or remove the links."
        )


def publish_folder(
    folder: str | os.PathLike,
    repo_id: str,
    dry_run: bool = False,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str | None = None,
) -> UploadPlan:
    """Validate ``folder``, then create ``repo_id`` (if needed) and upload exactly the planned files.

    Args:
        folder: An export directory (:func:`wnlb_zoo.weights.export.export_model`).
        repo_id: ``org/name`` on the hub; must be the record's ``repo_id``.
        dry_run: Only validate and return the plan; nothing touches the network.
        private: Visibility of a newly created repo (hub default when None).
        token: Hub token; default the logged-in one.
        commit_message: Default ``"Upload <architecture>.<tag>"``.
    """
    plan = plan_upload(folder, repo_id)
    if dry_run:
        return plan
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(
        repo_id=repo_id,
        folder_path=str(plan.folder),
        allow_patterns=[file.path for file in plan.files],
        commit_message=commit_message or f"Upload {plan.record.name}",
    )
    return plan
