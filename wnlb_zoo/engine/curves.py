"""``curves.png``: a run's training loss and validation box / mask AP per epoch, from its log records.

Rewritten after every epoch (atomically, by rank 0), so that it always shows the run so far; a
resumed run draws from its whole log. Epoch 0 (``--eval-at-start``) has an AP and no loss; an
epoch without validation annotations has no AP and leaves a gap.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .figures import new_figure, save_figure

CURVES_FILE = "curves.png"


def draw_curves(records: Sequence[dict[str, Any]], path: str | os.PathLike, title: str = "") -> Path:
    """Plot the mean training loss and the box / mask AP (in %) of each record's epoch into a PNG at ``path``."""
    figure = new_figure(9, 3.4)
    loss_axes, ap_axes = figure.subplots(1, 2)
    trained = [record for record in records if record.get("train")]
    loss_axes.plot([r["epoch"] for r in trained], [r["train"]["loss"] for r in trained], "o-", color="tab:red")
    loss_axes.set(title="training loss (epoch mean)", xlabel="epoch", ylabel="loss")
    for iou_type, label, colour in (("bbox", "box AP", "tab:blue"), ("segm", "mask AP", "tab:green")):
        epochs = [r["epoch"] for r in records]
        values = [_percent(r.get(iou_type, {}).get("AP")) for r in records]
        ap_axes.plot(epochs, values, "o-", color=colour, label=label)
    ap_axes.set(title="validation AP (IoU 0.5:0.95)", xlabel="epoch", ylabel="AP (%)")
    ap_axes.legend(loc="best")
    for axes in (loss_axes, ap_axes):
        axes.grid(alpha=0.3)
        axes.xaxis.get_major_locator().set_params(integer=True)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def _percent(value: float | None) -> float:
    """An AP fraction in %, NaN (a gap in the line) where nothing was measured."""
    return float("nan") if value is None else 100 * value
