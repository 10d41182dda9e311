"""Where the package's log messages go when it runs as a command: information to standard output, warnings and
errors to standard error.

The library reports through :mod:`logging` (``logging.getLogger(__name__)`` in each module, as timm
does) and prints nothing itself, so a program that imports it decides what it shows: for example
``logging.basicConfig(level=logging.INFO)`` shows a fine-tuning run's progress lines. The
``wnlb-zoo`` command and the comparison's cell workers call :func:`log_to_console`.
"""

from __future__ import annotations

import logging
import sys

PACKAGE_LOGGER = "wnlb_zoo"


class ConsoleHandler(logging.Handler):
    """Writes each message, as it is, to the ``sys.stdout`` (below WARNING) or ``sys.stderr`` of the moment it is
    emitted.

    The streams are looked up per message, not kept from when the handler was made, so output that
    is redirected later (a comparison worker's log file, pytest's capture) is followed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stdout if record.levelno < logging.WARNING else sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # logging's contract: a failing handler reports and never raises
            self.handleError(record)


def log_to_console(level: int = logging.INFO) -> None:
    """Send the package's messages of ``level`` and above to the console (one handler, however often called).

    The messages still propagate to the root logger as usual, so handlers set up there (pytest's
    ``caplog``, a program's own log file) see them too.
    """
    logger = logging.getLogger(PACKAGE_LOGGER)
    if not any(isinstance(handler, ConsoleHandler) for handler in logger.handlers):
        logger.addHandler(ConsoleHandler())
    logger.setLevel(level)
