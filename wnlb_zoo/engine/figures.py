"""PNG figures drawn off-screen with matplotlib's Agg canvas, written atomically, never fatal to a run.

Figures are built as :class:`matplotlib.figure.Figure` objects on an Agg canvas, not through
``pyplot``: no window ever opens, no global backend is switched (a user's notebook keeps its own),
and nothing is left in pyplot's figure registry. :func:`save_figure` writes to a temporary file
beside the target and renames it into place, so a reader (or a run killed mid-write) never sees a
half-written picture. :func:`draw_or_warn` runs a drawing and turns any failure into a
:class:`DrawingWarning`: a picture that cannot be drawn must never lose a training run.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class DrawingWarning(UserWarning):
    """A figure could not be drawn or written; what it would have shown is still in the logs."""


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches on its own Agg canvas."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write ``figure`` as a PNG to ``path`` atomically (a temporary file renamed into place)."""
    path = Path(path)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        figure.savefig(staging, format="png", dpi=dpi)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path


def draw_or_warn(draw: Callable[[], Path], what: str) -> Path | None:
    """``draw()``, or None with a :class:`DrawingWarning` naming ``what`` and the error when it fails."""
    try:
        return draw()
    except Exception as error:  # a picture is never worth a run: any failure is reported, none raised
        warnings.warn(f"Could not draw {what}: {type(error).__name__}: {error}", DrawingWarning, stacklevel=2)
        return None
