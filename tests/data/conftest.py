"""Shared helpers of the data tests: where ``../shared/data`` is, and skipping when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

# tests/data/conftest.py -> the repository root is two levels up; the shared data sits beside it.
SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()


@pytest.fixture
def shared_data():
    """A function ``(*parts) -> Path`` into ``../shared/data`` that skips the test when the path is absent."""

    def locate(*parts: str) -> Path:
        path = SHARED_DATA.joinpath(*parts)
        if not path.exists():
            pytest.skip(f"{path} is absent (the test needs ../shared/data)")
        return path

    return locate
