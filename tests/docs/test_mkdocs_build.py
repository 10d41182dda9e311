"""``mkdocs build --strict`` succeeds offline: every page, link, anchor, snippet and API page resolves."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    for package in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        pytest.importorskip(package, reason="the docs extra is not installed: pip install -e '.[docs]'")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "variants" / "index.html").is_file()
    benchmarks = (tmp_path / "site" / "benchmarks" / "index.html").read_text()
    for plot in ("layer-memory-h200.png", "training-speed-h200.png"):
        assert (
            f"images/benchmarks/{plot}" in benchmarks and (tmp_path / "site" / "images" / "benchmarks" / plot).is_file()
        )
