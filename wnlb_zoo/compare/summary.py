"""The summary table of a comparison: per configuration and data point, mean +- std over seeds, and the gain.

AP is the final epoch's (not the best epoch's: that one is picked on the validation set it is
scored on), in percent points. The gain is the mean paired difference to the baseline over the
seeds both finished, with its 95% Student t interval (:mod:`wnlb_zoo.compare.statistics`).
Speed is the configuration's mean training img/s over the baseline's at the same point.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import write_text_atomically
from .statistics import PairedDifference, Spread, paired_difference, spread
from .study import point_text

#: Table columns of each AP: (name in the tables, IoU type in a record).
AP_KINDS = (("box", "bbox"), ("mask", "segm"))


@dataclass(frozen=True)
class SummaryRow:
    """One configuration at one data point (``point_index`` None without an axis); AP in percent points.

    ``ap`` and ``gain`` map ``"box"`` / ``"mask"`` to the spread over seeds and the paired
    difference to the baseline (None for the baseline itself, or with no pair or no measured AP).
    """

    label: str
    point_index: int | None
    point: Any
    seeds: tuple[int, ...]
    ap: dict[str, Spread | None]
    gain: dict[str, PairedDifference | None]
    img_per_s: Spread
    speed_vs_baseline: float | None
    peak_memory_mib: float


def summarize(records: Sequence[dict[str, Any]], baseline: str, labels: Sequence[str]) -> list[SummaryRow]:
    """The rows of ``records`` (results.jsonl records), point by point, in the order of ``labels``."""
    groups: dict[tuple[int | None, str], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["point_index"], record["label"]), []).append(record)
    points = sorted({point for point, _ in groups}, key=lambda index: -1 if index is None else index)
    rows = []
    for point in points:
        base = {record["seed"]: record for record in groups.get((point, baseline), [])}
        for label in labels:
            cells = sorted(groups.get((point, label), []), key=lambda record: record["seed"])
            if cells:
                rows.append(_row(label, point, cells, base, is_baseline=label == baseline))
    return rows


def _row(
    label: str, point: int | None, cells: list[dict[str, Any]], base: dict[int, dict[str, Any]], is_baseline: bool
) -> SummaryRow:
    ap: dict[str, Spread | None] = {}
    gain: dict[str, PairedDifference | None] = {}
    for name, iou_type in AP_KINDS:
        values = [_ap(cell, iou_type) for cell in cells]
        measured = [value for value in values if value is not None]
        ap[name] = spread(measured) if measured else None
        pairs = [(_ap(cell, iou_type), _ap(base[cell["seed"]], iou_type)) for cell in cells if cell["seed"] in base]
        pairs = [(value, reference) for value, reference in pairs if value is not None and reference is not None]
        gain[name] = None if is_baseline or not pairs else paired_difference(*map(list, zip(*pairs, strict=True)))
    rates = spread([cell["train_img_per_s"] for cell in cells])
    base_rates = [record["train_img_per_s"] for record in base.values()]
    speed = rates.mean / spread(base_rates).mean if base_rates else None
    return SummaryRow(
        label=label,
        point_index=point,
        point=cells[0]["point"],
        seeds=tuple(cell["seed"] for cell in cells),
        ap=ap,
        gain=gain,
        img_per_s=rates,
        speed_vs_baseline=speed,
        peak_memory_mib=spread([cell["peak_memory_mib"] for cell in cells]).mean,
    )


def _ap(record: dict[str, Any], iou_type: str) -> float | None:
    value = record["final"][iou_type]["AP"]
    return None if value is None else 100 * value


def markdown_table(rows: Sequence[SummaryRow], baseline: str, axis_title: str | None = None) -> str:
    """The rows as a markdown table (AP in %, mean +- std over seeds; gain [95% t interval])."""
    header = ["configuration", *([axis_title] if axis_title else []), "seeds"]
    header += [f"{name} AP" for name, _ in AP_KINDS]
    header += [f"{name} AP gain vs {baseline} [95% CI]" for name, _ in AP_KINDS]
    header += ["train img/s", "speed vs baseline", "peak memory (MiB)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for row in rows:
        cells = [row.label, *([point_text(row.point)] if axis_title else []), str(len(row.seeds))]
        cells += [spread_text(row.ap[name]) for name, _ in AP_KINDS]
        cells += ["-" if row.label == baseline else gain_text(row.gain[name]) for name, _ in AP_KINDS]
        cells += [spread_text(row.img_per_s, digits=2), _ratio_text(row.speed_vs_baseline)]
        cells.append(f"{row.peak_memory_mib:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_table(rows: Sequence[SummaryRow]) -> str:
    """The rows as CSV with every number in full (AP in percent points; empty where not measured)."""
    columns = ["configuration", "point_index", "point", "seeds"]
    for name, _ in AP_KINDS:
        columns += [f"{name}_ap_mean", f"{name}_ap_std"]
    for name, _ in AP_KINDS:
        columns += [f"{name}_ap_gain", f"{name}_ap_gain_low", f"{name}_ap_gain_high", f"{name}_ap_pairs"]
    columns += ["img_per_s_mean", "img_per_s_std", "speed_vs_baseline", "peak_memory_mib"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        values: list[Any] = [row.label, row.point_index, json.dumps(row.point), " ".join(map(str, row.seeds))]
        for name, _ in AP_KINDS:
            values += [None, None] if row.ap[name] is None else [row.ap[name].mean, row.ap[name].std]
        for name, _ in AP_KINDS:
            gain = row.gain[name]
            values += [None] * 4 if gain is None else [gain.mean, gain.low, gain.high, gain.n]
        values += [row.img_per_s.mean, row.img_per_s.std, row.speed_vs_baseline, row.peak_memory_mib]
        writer.writerow(["" if value is None else value for value in values])
    return buffer.getvalue()


def write_summary(rows: Sequence[SummaryRow], output: Path, baseline: str, axis_title: str | None = None) -> None:
    """``summary.md`` and ``summary.csv`` in ``output``."""
    write_text_atomically(output / "summary.md", markdown_table(rows, baseline, axis_title))
    write_text_atomically(output / "summary.csv", csv_table(rows))


def spread_text(value: Spread | None, digits: int = 1) -> str:
    """``'3.2 ± 0.8'``: mean and sample standard deviation (just the mean for one value; ``-`` for none)."""
    if value is None:
        return "-"
    return f"{value.mean:.{digits}f}" + ("" if value.std is None else f" ± {value.std:.{digits}f}")


def gain_text(gain: PairedDifference | None) -> str:
    """``'+1.9 [+1.1, +2.8]'``: a mean paired difference and its interval (``-`` for none)."""
    if gain is None:
        return "-"
    interval = "" if gain.low is None else f" [{gain.low:+.1f}, {gain.high:+.1f}]"
    return f"{gain.mean:+.1f}{interval}"


def _ratio_text(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"
