"""Progress bars: tqdm on an interactive terminal of the logging rank, nothing anywhere else.

tqdm's ``disable=None`` turns a bar off when the output is not a terminal (cluster logs, files);
other ranks pass ``enabled=False``. The engine prints one line per epoch in any case.
"""

from __future__ import annotations

from collections.abc import Iterable

from tqdm.auto import tqdm


def progress_bar(iterable: Iterable, description: str, enabled: bool = True) -> tqdm:
    """A tqdm bar over ``iterable``; disabled (iterating silently, ignoring postfix updates) unless ``enabled``
    and the output is a terminal."""
    return tqdm(iterable, desc=description, dynamic_ncols=True, leave=False, disable=None if enabled else True)
