"""The result record of a finished cell: what ran, what it scored, what it cost, and where.

One record per cell is one line of ``results.jsonl``. Its fields, for any reader of the file:

- ``cell`` (the cell's folder under ``cells/``), ``label``, ``backbone``, ``backbone_kwargs``,
  ``seed``, ``axis`` (the varied option or None), ``point_index`` and ``point`` (its value);
- ``final``: box (``bbox``) and mask (``segm``) AP, AP50, AP75 after the last epoch, as fractions
  (None where COCOeval had nothing to measure), with ``epoch``; ``best``: the same for the epoch
  with the highest mask AP (the checkpoint the run exports; chosen on the validation set itself,
  so optimistic: the summary uses ``final``);
- ``train_img_per_s``: training images per second over all epochs (total images / total time of the
  training passes; evaluation excluded), ``train_img_per_s_epochs`` per epoch,
  ``peak_memory_mib`` (peak CUDA memory allocated on a GPU, the process's peak resident set on a
  CPU), ``wall_s`` (the cell's run, from start to result; ``resumed`` when it continued a killed one);
- ``dataset``, ``epochs``, ``config`` (the whole fine-tuning recipe), ``environment`` (device,
  library versions, git commit, date, machine load: :func:`wnlb_zoo.benchmark.environment.environment_record`)
  and ``command`` (the comparison's command line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..engine.run_log import read_records

METRICS = ("AP", "AP50", "AP75")
IOU_TYPES = ("bbox", "segm")


def scores(epoch_record: dict[str, Any]) -> dict[str, Any]:
    """The AP, AP50 and AP75 of boxes and masks in one epoch record of ``log.jsonl``, and its epoch."""
    picked: dict[str, Any] = {"epoch": epoch_record["epoch"]}
    for iou_type in IOU_TYPES:
        summary = epoch_record.get(iou_type) or {}
        picked[iou_type] = {name: summary.get(name) for name in METRICS}
    return picked


def training_summary(run_folder: str | Path) -> dict[str, Any]:
    """Final and best scores, throughput and peak memory of the finished run in ``run_folder``."""
    records, _ = read_records(Path(run_folder) / "log.jsonl")
    trained = [record for record in records if record.get("train")]
    if not trained:
        raise ValueError(f"{run_folder}/log.jsonl holds no trained epoch: the run did not finish.")
    rates = [record["train"]["img_per_s"] for record in trained]
    best = max(trained, key=lambda record: _or_minus_one(record["segm"]["AP"] if record.get("segm") else None))
    return {
        "final": scores(trained[-1]),
        "best": scores(best),
        "train_img_per_s": len(rates) / sum(1 / rate for rate in rates),  # same images every epoch
        "train_img_per_s_epochs": rates,
        "peak_memory_mib": max(record["train"]["peak_memory_mib"] for record in trained),
    }


def _or_minus_one(value: float | None) -> float:
    return -1.0 if value is None else value
