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
from ..console import log_to_console
from ..detection import DetectorWeightsError
from ..engine import CheckpointError, NonFiniteLossError, TrainingInterrupted
from ..models import CheckpointMismatchError
from ..weights import WeightIntegrityError
from . import bench, compare, darken, evaluate, export, features, finetune, list_models, model_info, predict, weights
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
    PermissionError,  # a read-only or foreign output path
    IsADirectoryError,
    NotADirectoryError,
)

COMMANDS = (finetune, compare, evaluate, predict, export, darken, features, weights, list_models, model_info, bench)


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
    """Run ``wnlb-zoo``; errors the user can fix are printed without a traceback.

    A command interrupted with Ctrl-C exits with 130 after one line; a command that can say what
    its interruption kept (``finetune``: the last intact checkpoint) raises a ``KeyboardInterrupt``
    whose message says so. The package's log messages (a run's progress) are printed to the console.
    """
    log_to_console()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "config", None):
            args = reparse_with_config(parser, args, argv)
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        print(f"wnlb-zoo {args.command}: error: {user_message(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # Ctrl-C: one line (a command may say what survived), exit 130
        if not isinstance(interrupt, TrainingInterrupted) or str(interrupt):  # torchrun: rank 0 alone speaks
            print(f"wnlb-zoo {args.command}: {interrupt or 'interrupted'}", file=sys.stderr)
        return 130


def user_message(error: BaseException) -> str:
    """The message of a user error, without the worker traceback a DataLoader wraps around it.

    An exception raised in a loader worker reaches the main process re-raised with the worker's
    formatted traceback as its message ("Caught ImageReadError in DataLoader worker process 0.
    Original Traceback ..."); the user needs only the original message at its end.
    """
    message = str(error)
    if not (message.startswith("Caught ") and "\nOriginal Traceback" in message):
        return message
    kind = type(error)
    heads = (f"{kind.__module__}.{kind.__qualname__}: ", f"{kind.__qualname__}: ")
    lines = message.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        for head in heads:
            if lines[index].startswith(head):
                return "\n".join([lines[index][len(head) :], *lines[index + 1 :]]).strip()
    return message


if __name__ == "__main__":
    sys.exit(main())
