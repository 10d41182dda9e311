"""Per-epoch logs of a run: JSON lines, CSV, and TensorBoard events when tensorboard is installed."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{'bbox': {'AP': 1}}`` -> ``{'bbox/AP': 1}``."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}/"))
        else:
            flat[name] = value
    return flat


class RunLog:
    """Appends one record per epoch to ``log.jsonl`` and ``log.csv`` (and TensorBoard) in ``output_dir``.

    On ``--resume`` the files are truncated to the epochs before the resumed one, so that the log of
    a resumed run reads like that of an uninterrupted one. TensorBoard's step is the epoch, and its
    writer is opened with ``purge_step=resume_epoch``: TensorBoard then discards the events that the
    killed run wrote for the epochs being re-run, instead of showing them twice.
    """

    def __init__(self, output_dir: str | os.PathLike, resume_epoch: int | None = None) -> None:
        self.output = Path(output_dir)
        self.jsonl = self.output / "log.jsonl"
        self.csv = self.output / "log.csv"
        self.records: list[dict[str, Any]] = []
        if resume_epoch is not None and self.jsonl.exists():
            lines = self.jsonl.read_text().splitlines()
            self.records = [r for r in map(json.loads, lines) if r["epoch"] < resume_epoch]
        self._rewrite()
        self.tensorboard = _tensorboard_writer(self.output / "tensorboard", purge_step=resume_epoch)

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        with self.jsonl.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        self._write_csv()
        if self.tensorboard is not None:
            for name, value in flatten(record).items():
                if isinstance(value, int | float) and name != "epoch":
                    self.tensorboard.add_scalar(name, value, record["epoch"])
            self.tensorboard.flush()

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()

    def _rewrite(self) -> None:
        self.jsonl.write_text("".join(json.dumps(r) + "\n" for r in self.records))
        self._write_csv()

    def _write_csv(self) -> None:
        rows = [flatten(r) for r in self.records]
        columns = list(dict.fromkeys(name for row in rows for name in row))
        with self.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)


def _tensorboard_writer(directory: Path, purge_step: int | None = None):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(directory), purge_step=purge_step)
