"""Progress bars: tqdm on an interactive terminal of the logging rank.

Off when output goes to a file (cluster logs) or tqdm is not installed; the engine prints one
line per epoch in any case.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class _Silent:
    """Stands in for a tqdm bar: iterates and ignores postfix updates."""

    def __init__(self, iterable: Iterable) -> None:
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def set_postfix(self, **_: Any) -> None:
        pass


def progress_bar(iterable: Iterable, description: str, enabled: bool = True) -> Any:
    """A tqdm bar over ``iterable`` (a silent pass-through when disabled or tqdm is absent)."""
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return _Silent(iterable)
        return tqdm(iterable, desc=description, dynamic_ncols=True, leave=False, disable=None)
    return _Silent(iterable)
