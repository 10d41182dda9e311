"""An exclusive hold on a run directory for the life of a training run.

Two ``finetune`` runs writing into one ``--output`` interleave its log and delete each other's
checkpoints. A run therefore holds an OS lock (``fcntl.flock``) on ``OUTPUT/.lock`` from its start
to its end. The kernel releases the lock when the process ends, however it ends, so a crashed or
SIGKILLed run never leaves a stale lock behind. The file records who holds it (PID, host, start
time), so that a refused run can say which run is in the way.

A ``flock`` belongs to the open file, which forked children (DataLoader workers) share: a
child holding it would keep the directory locked after its parent was killed, until the child
noticed and exited. Forked children therefore close their copy at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import IO

LOCK_FILE = ".lock"

#: The lock files this process holds; a forked child closes its copies (see the module docstring).
_HELD: set[IO[str]] = set()


def _close_in_forked_child() -> None:
    for handle in _HELD:
        handle.close()  # the child's descriptor only: the parent keeps the lock
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_forked_child)


class RunInUseError(ValueError):
    """The run directory is held by another run that is still alive."""


class RunLock:
    """``with RunLock(output):`` holds ``output`` exclusively, or raises :class:`RunInUseError` at once."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self._handle: IO[str] | None = None

    def __enter__(self) -> RunLock:
        handle = self.path.open("a+")  # not "w": the holder's record must survive a refused attempt
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _describe(handle.read())
            handle.close()
            raise RunInUseError(
                f"{self.directory} is in use by another run ({holder}). Wait for it to end (or stop it) and "
                "pass --resume to continue it, or choose another --output."
            ) from None
        handle.truncate(0)
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}))
        handle.flush()
        self._handle = handle
        _HELD.add(handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._handle is not None:
            _HELD.discard(self._handle)
            self._handle.close()  # closing the file releases the lock
            self._handle = None


def _describe(record: str) -> str:
    """'PID 123 on host, started 2025-01-01 12:00:00' from a lock file's record."""
    try:
        holder = json.loads(record)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder["started"]))
        return f"PID {holder['pid']} on {holder['host']}, started {started}"
    except (ValueError, KeyError, TypeError):  # the holder is between taking the lock and writing its record
        return "its PID is not recorded yet"
