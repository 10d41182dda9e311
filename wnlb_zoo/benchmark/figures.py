"""Plots of benchmark records (the ``records`` of a ``wnlb-zoo bench`` JSON), for the docs.

- :func:`draw_layer_memory`: peak memory of one block against the number of positions it attends
  over, the textbook block (which materialises the N x N matrix) against ours, on log axes with
  guides of slope 1 and 2, and the device's memory as a ceiling;
- :func:`draw_training_speed`: Mask R-CNN training images/s of each detector relative to the plain
  backbone's in the same run (:func:`~wnlb_zoo.benchmark.training_speed_ratios`), one bar group per
  configuration and one bar per run (e.g. default memory format and channels_last).

``scripts/generate_docs.py`` draws them from ``docs/benchmarks/``; they are never drawn by hand.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..engine.figures import new_figure, save_figure
from .speed_ratios import PLAIN_DETECTOR, training_speed_ratios

IMPLEMENTATION_LABELS = {"naive": "textbook (N x N matrix)", "ours": "ours"}


def layer_memory_points(
    records: Sequence[dict[str, Any]], mode: str, dtype: str, pass_: str
) -> dict[tuple[str, int, int], list[tuple[int, float]]]:
    """``{(implementation, stage, channels): [(positions, MiB), ...]}`` of one mode, dtype and pass.

    Grouped by stage so that each line holds the channel count fixed and varies the positions only
    (the input size). MiB is the peak above the memory in use before the measured calls
    (``extra_mib``); records that did not run (skipped, out of memory) are left out.
    """
    points: dict[tuple[str, int, int], list[tuple[int, float]]] = {}
    for record in records:
        if record.get("part") != "layer" or record.get("status") != "ok":
            continue
        if (record["mode"], record["dtype"], record["pass"]) != (mode, dtype, pass_):
            continue
        key = (record["implementation"], record["stage"], record["channels"])
        points.setdefault(key, []).append((record["positions"], record["extra_mib"]))
    if not points:
        raise ValueError(f"no measured layer records of mode {mode!r}, dtype {dtype!r}, pass {pass_!r}")
    return {key: sorted(points[key]) for key in sorted(points)}


def draw_layer_memory(
    records: Sequence[dict[str, Any]],
    path: str | os.PathLike,
    title: str,
    device_memory_gib: float | None = None,
    mode: str = "embedded",
    dtype: str = "bf16",
    pass_: str = "fwd+bwd",
) -> Path:
    """Peak memory against positions, naive and ours, one line per stage, log-log, into a PNG at ``path``.

    A dotted guide of slope 2 (naive) or 1 (ours) runs through each implementation's largest
    measurement: the textbook block's memory grows with N^2, ours with N.
    """
    points = layer_memory_points(records, mode, dtype, pass_)
    figure = new_figure(6.6, 4.6)
    axes = figure.subplots()
    colours = {"naive": "tab:red", "ours": "tab:blue"}
    markers = "osD^v"
    largest: dict[str, tuple[int, float]] = {}
    for (implementation, stage, channels), values in points.items():
        positions, mib = zip(*values, strict=True)
        label = f"{IMPLEMENTATION_LABELS.get(implementation, implementation)}, stage {stage} (C = {channels})"
        colour = colours.get(implementation, "tab:gray")
        axes.plot(positions, mib, f"{markers[(stage - 1) % len(markers)]}-", color=colour, label=label)
        largest[implementation] = max(largest.get(implementation, (0, 0.0)), values[-1])
    for implementation, (top_positions, top_mib) in largest.items():
        slope = 2 if implementation == "naive" else 1
        ends = [top_positions / 300, top_positions]
        axes.plot(
            ends, [top_mib * (x / top_positions) ** slope for x in ends], ":",
            color=colours.get(implementation, "tab:gray"), alpha=0.6, label=f"slope {slope}: memory ~ N^{slope}",
        )  # fmt: skip
    if device_memory_gib:
        axes.axhline(device_memory_gib * 1024, color="black", linewidth=1)
        axes.text(
            0.01, device_memory_gib * 1024, f" device memory, {device_memory_gib:g} GiB",
            transform=axes.get_yaxis_transform(), va="bottom", fontsize=8,
        )  # fmt: skip
    axes.set(xscale="log", yscale="log", xlabel="positions N = H x W of the feature map", ylabel="peak MiB")
    axes.set_title(title, fontsize=9)
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, 0.93), title="block, stage", title_fontsize=7)
    return save_figure(figure, path, dpi=110)


def draw_training_speed(runs: Mapping[str, Sequence[dict[str, Any]]], path: str | os.PathLike, title: str) -> Path:
    """Bars of :func:`.training_speed_ratios` per detector label, one bar per run (``{run label: records}``)."""
    ratios = {name: _ratios_by_label(records) for name, records in runs.items()}
    labels = list(dict.fromkeys(label for run in ratios.values() for label in run))
    figure = new_figure(7.2, 0.5 * len(labels) * max(len(runs), 1) + 1.4)
    axes = figure.subplots()
    height = 0.8 / len(runs)
    for position, (name, run) in enumerate(ratios.items()):
        offsets = [index + (position - (len(runs) - 1) / 2) * height for index in range(len(labels))]
        values = [run.get(label, float("nan")) for label in labels]
        bars = axes.barh(offsets, values, height=height, label=name)
        axes.bar_label(bars, labels=[f"{value:.2f}" for value in values], fontsize=7, padding=2)
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_yticks(range(len(labels)), [label.removeprefix("ours ") for label in labels], fontsize=8)
    axes.invert_yaxis()
    axes.set(xlabel=f"training img/s relative to the same Mask R-CNN on plain {PLAIN_DETECTOR} (= 1)")
    axes.set_xlim(0, max(1.15, max(v for run in ratios.values() for v in run.values()) + 0.12))
    axes.set_title(title, fontsize=9)
    axes.grid(alpha=0.3, axis="x")
    if len(runs) > 1:
        axes.legend(fontsize=8, loc="lower right")
    return save_figure(figure, path, dpi=110)


def _ratios_by_label(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    rows = training_speed_ratios(records)
    if not rows:
        raise ValueError(f"the records hold no training speed relative to the plain detector {PLAIN_DETECTOR!r}")
    return {row["label"]: row["ratio"] for row in rows}
