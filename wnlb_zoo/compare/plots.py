"""The two pictures of a comparison: AP along the data axis, and AP gain against cost.

``ap_by_point.png``: box and mask AP of each configuration at each point of the axis, mean with
error bars of one standard deviation over seeds. ``gain_vs_cost.png``: each configuration's AP gain
over the baseline (paired over seeds, with its 95% t interval) against its training speed relative
to the baseline's (1.0 = as fast; left of it is slower), one marker per point of the axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..engine.figures import new_figure, save_figure
from .study import point_text
from .summary import AP_KINDS, SummaryRow

AP_PLOT = "ap_by_point.png"
GAIN_PLOT = "gain_vs_cost.png"


def write_plots(rows: Sequence[SummaryRow], output: Path, baseline: str, axis_title: str | None = None) -> list[Path]:
    """Draw both plots of ``rows`` into ``output``; return their paths."""
    return [plot_ap_by_point(rows, output / AP_PLOT, axis_title), plot_gain_vs_cost(rows, output / GAIN_PLOT, baseline)]


def plot_ap_by_point(rows: Sequence[SummaryRow], path: Path, axis_title: str | None = None) -> Path:
    """Box and mask AP (mean +- std over seeds) per configuration along the data axis."""
    labels = list(dict.fromkeys(row.label for row in rows))
    points = sorted({row.point_index for row in rows}, key=lambda index: -1 if index is None else index)
    names = {row.point_index: point_text(row.point) if row.point_index is not None else "all" for row in rows}
    figure = new_figure(10, 4)
    panels = figure.subplots(1, len(AP_KINDS), sharex=True)
    width = 0.4 / max(len(labels), 1)  # configurations side by side around each point, so error bars do not hide
    for panel, (name, _) in zip(panels, AP_KINDS, strict=True):
        for number, label in enumerate(labels):
            mine = [row for row in rows if row.label == label and row.ap[name] is not None]
            x = [points.index(row.point_index) + (number - (len(labels) - 1) / 2) * width for row in mine]
            y = [row.ap[name].mean for row in mine]
            errors = [row.ap[name].std or 0.0 for row in mine]
            panel.errorbar(x, y, yerr=errors, marker="o", capsize=3, label=label)
        panel.set_xticks(range(len(points)), [names[point] for point in points])
        panel.set_xlim(-0.5, len(points) - 0.5)
        panel.set_xlabel(axis_title or "")
        panel.set_ylabel(f"{name} AP (%)")
        panel.set_title(f"{name} AP, mean ± std over seeds")
        panel.grid(alpha=0.3)
    if labels:
        panels[0].legend()
    return save_figure(figure, path)


def plot_gain_vs_cost(rows: Sequence[SummaryRow], path: Path, baseline: str) -> Path:
    """Each configuration's AP gain over ``baseline`` (95% t interval) against its speed relative to it."""
    figure = new_figure(10, 4)
    panels = figure.subplots(1, len(AP_KINDS), sharex=True)
    for panel, (name, _) in zip(panels, AP_KINDS, strict=True):
        panel.axhline(0.0, color="grey", linewidth=0.8)
        panel.plot([1.0], [0.0], marker="s", color="black", linestyle="none", label=f"{baseline} (baseline)")
        for label in dict.fromkeys(row.label for row in rows if row.label != baseline):
            mine = [row for row in rows if row.label == label and row.gain[name] and row.speed_vs_baseline]
            x = [row.speed_vs_baseline for row in mine]
            y = [row.gain[name].mean for row in mine]
            errors = [
                [0.0 if row.gain[name].low is None else row.gain[name].mean - row.gain[name].low for row in mine],
                [0.0 if row.gain[name].high is None else row.gain[name].high - row.gain[name].mean for row in mine],
            ]
            lines = panel.errorbar(x, y, yerr=errors, marker="o", capsize=3, linestyle="none", label=label)
            for row, x_value, y_value in zip(mine, x, y, strict=True):
                if row.point_index is not None:
                    panel.annotate(
                        point_text(row.point), (x_value, y_value), textcoords="offset points", xytext=(4, 4),
                        fontsize=7, color=lines[0].get_color(),
                    )  # fmt: skip
        panel.set_xlabel(f"training speed relative to {baseline} (img/s ratio)")
        panel.set_ylabel(f"{name} AP gain (% points)")
        panel.set_title(f"{name} AP gain over {baseline}, 95% t interval")
        panel.grid(alpha=0.3)
    panels[0].legend(fontsize=8)
    return save_figure(figure, path)
