"""Entry point of the ``wnlb-zoo`` command.

Each command lives in its own module of :mod:`wnlb_zoo.cli` that exposes
``register(subparsers)``: it adds its parser and sets ``handler`` (a function of the parsed
arguments returning an exit code). Adding a command means adding its module to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..detection import DetectorWeightsError
from ..engine import CheckpointError, NonFiniteLossError
from ..models import CheckpointMismatchError
from ..weights import WeightIntegrityError
from . import bench, darken, evaluate, features, finetune, list_models, model_info, predict, weights
from .config_file import reparse_with_config

#: Errors caused by what the user asked for: printed as one message. Anything else is a bug and keeps
#: its traceback.
USER_ERRORS = (
    ValueError,  # bad arguments, annotations (AnnotationError), images (ImageReadError), manifests
    FileNotFoundError,  # missing files, PretrainedWeightsNotFound
    CheckpointError,
    CheckpointMismatchError,
    DetectorWeightsError,
    NonFiniteLossError,
    WeightIntegrityError,
)

COMMANDS = (finetune, evaluate, predict, darken, features, weights, list_models, model_info, bench)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="wnlb-zoo",
        description="Weighted non-local backbones for low-light detection and instance segmentation.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``wnlb-zoo``; errors the user can fix are printed without a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "config", None):
            args = reparse_with_config(parser, args, argv)
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        print(f"wnlb-zoo {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
