"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def unwritable_dir(tmp_path) -> Path:
    """A folder no file can be created in, also when the tests run as root (as in CI).

    Root ignores permission bits, so as root a path under ``/sys`` (sysfs refuses new entries) stands in
    for a read-only folder; the test is skipped only if neither way gives an unwritable folder.
    """
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    folder = Path("/sys/wnlb-zoo-read-only")
    try:
        with tempfile.TemporaryFile(dir="/sys"):
            pass
    except OSError:
        yield folder
        return
    pytest.skip("no folder here refuses new files (root, and /sys is writable)")
