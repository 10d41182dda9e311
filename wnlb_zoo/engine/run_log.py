"""Per-epoch logs of a run: JSON lines, CSV, and TensorBoard events when tensorboard is installed."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any


class RunLogError(ValueError):
    """``log.jsonl`` holds a line that is not a record, other than a torn last one."""


def read_records(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """The records of a ``log.jsonl``, and whether a torn last line was dropped.

    A run killed while appending leaves its last line cut short: that line is dropped (the epoch it
    describes is re-run on resume). A bad line anywhere else means the file was edited or damaged,
    and is refused with its line number rather than guessed at.
    """
    lines = path.read_text().splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "epoch" not in record:
                raise ValueError("not a JSON object with an 'epoch'")
        except ValueError as error:
            if number == len(lines):
                return records, True
            raise RunLogError(
                f"{path}, line {number}, is not a log record ({error}). Repair or delete that line, then resume again."
            ) from None
        records.append(record)
    return records, False


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
    a resumed run reads like that of an uninterrupted one; ``dropped_torn_line`` says whether the
    killed run had left a torn last line (see :func:`read_records`). TensorBoard's step is the epoch, and its
    writer is opened with ``purge_step=resume_epoch``: TensorBoard then discards the events that the
    killed run wrote for the epochs being re-run, instead of showing them twice.
    """

    def __init__(self, output_dir: str | os.PathLike, resume_epoch: int | None = None) -> None:
        self.output = Path(output_dir)
        self.jsonl = self.output / "log.jsonl"
        self.csv = self.output / "log.csv"
        self.records: list[dict[str, Any]] = []
        self.dropped_torn_line = False
        if resume_epoch is not None and self.jsonl.exists():
            records, self.dropped_torn_line = read_records(self.jsonl)
            self.records = [record for record in records if record["epoch"] < resume_epoch]
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
