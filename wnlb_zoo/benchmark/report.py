"""Benchmark results as JSON (the record) and as plain-text / markdown tables (for people)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_LAYER_COLUMNS = (
    ("input", "input_size"), ("stage", "stage"), ("C", "channels"), ("HxW", "feature"), ("mode", "mode"),
    ("dtype", "dtype"), ("pass", "pass"), ("impl", "implementation"), ("ms", "median_ms"), ("MiB", "extra_mib"),
    ("status", "status"),
)  # fmt: skip
_KERNEL_COLUMNS = (
    ("input", "input_size"), ("stage", "stage"), ("N", "positions"), ("d", "head_dim"), ("dtype", "dtype"),
    ("pass", "pass"), ("backend", "backend"), ("ms", "median_ms"), ("TFLOP/s", "tflops"), ("MiB", "extra_mib"),
    ("status", "status"),
)  # fmt: skip
_BACKBONE_COLUMNS = (
    ("model", "model"), ("input", "input_size"), ("batch", "batch"), ("dtype", "dtype"), ("img/s", "images_per_s"),
    ("ms", "median_ms"), ("peak MiB", "peak_mib"), ("status", "status"),
)  # fmt: skip
_DETECTION_COLUMNS = (
    ("detector", "label"), ("phase", "phase"), ("input", "input_size"), ("batch", "batch"), ("dtype", "dtype"),
    ("img/s", "images_per_s"), ("ms", "median_ms"), ("peak MiB", "peak_mib"), ("status", "status"),
)  # fmt: skip
_RATIO_COLUMNS = (("detector", "label"), ("relative to", "reference"), ("training img/s ratio", "ratio"))
PART_COLUMNS = {
    "layer": _LAYER_COLUMNS,
    "kernels": _KERNEL_COLUMNS,
    "backbone": _BACKBONE_COLUMNS,
    "detection": _DETECTION_COLUMNS,
}


def write_json(result: dict[str, Any], path: Path) -> None:
    """Write the result (environment, config, records, speed ratios) to ``path``, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], markdown: bool = False) -> str:
    """Rows as an aligned plain-text table, or as a markdown table."""
    header = [title for title, _ in columns]
    body = [[_cell(row.get(key)) for _, key in columns] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) for cells in [header, *body]
    )


def format_report(result: dict[str, Any], markdown: bool = False) -> str:
    """Every part's table, the training speed ratios and the environment line, ready to print."""
    env = result["environment"]
    sections = [
        f"device: {env['device']}; torch {env['torch']}, torchvision {env['torchvision']}, timm {env['timm']}, "
        f"CUDA {env['cuda']}; {env['date']}; load {env['load_average_1_5_15']}",
        f"command: {env['command']}",
    ]
    for part, columns in PART_COLUMNS.items():
        rows = [record for record in result["records"] if record["part"] == part]
        if rows:
            sections.append(f"\n{part}\n" + format_table(rows, columns, markdown))
    if result.get("speed_ratios"):
        ratios = format_table(result["speed_ratios"], _RATIO_COLUMNS, markdown)
        sections.append("\ntraining speed relative to the plain backbone, same run\n" + ratios)
    return "\n".join(sections)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)
