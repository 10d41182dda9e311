"""Progress bars: tqdm when it is installed and the process is the logging rank."""

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
        return tqdm(iterable, desc=description, dynamic_ncols=True, leave=False)
    return _Silent(iterable)
