"""Text files that are whole or absent: written beside their final name, then moved over it in one step.

A comparison can be killed at any moment; a reader (the rerun, a user, the docs) then finds each
result or table as it was before or after, never half written. (The plots are written the same way
by :func:`wnlb_zoo.engine.figures.save_figure`.)
"""

from __future__ import annotations

import os
from pathlib import Path


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that ``path`` holds either its old content or all of ``text``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with staging.open("w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
