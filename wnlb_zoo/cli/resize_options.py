"""``--min-size``, ``--max-size`` and ``--interpolation``: how a detector resizes its input images.

``finetune`` sets them for the run; ``evaluate`` and ``predict`` default to the checkpoint's own
and override them for one command (e.g. to score at the LIS protocol, 600x400 with
nearest-neighbour resizing, a model trained at another size).
"""

from __future__ import annotations

import argparse

INTERPOLATIONS = ("bilinear", "nearest")


def add_resize_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    min_size: int | None = None,
    max_size: int | None = None,
    interpolation: str | None = None,
) -> None:
    """Add the three options with these defaults; None means "the checkpoint's", and says so in the help."""

    def default(value: object) -> str:
        return "(default: %(default)s)" if value is not None else "(default: the checkpoint's)"

    parser.add_argument(
        "--min-size", type=int, default=min_size, help=f"shorter image side after resizing {default(min_size)}"
    )
    parser.add_argument(
        "--max-size", type=int, default=max_size, help=f"longest image side at most {default(max_size)}"
    )
    parser.add_argument(
        "--interpolation",
        choices=INTERPOLATIONS,
        default=interpolation,
        help=f"'nearest' keeps the noise, as the LIS protocol does {default(interpolation)}",
    )


def resize_overrides(args: argparse.Namespace) -> dict[str, int | str | None]:
    """The options as keyword arguments of :func:`~wnlb_zoo.engine.checkpoint.load_detector`."""
    return {"min_size": args.min_size, "max_size": args.max_size, "interpolation": args.interpolation}
