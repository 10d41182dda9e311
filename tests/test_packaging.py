"""The distribution ships every package, and the weights manifest as package data."""

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parents[1]


def setuptools_table() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_is_listed_in_pyproject():
    found = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "wnlb_zoo").rglob("__init__.py")}
    assert found | {"wnlb_zoo.weights_manifest"} == set(setuptools_table()["packages"])


def test_manifest_directory_is_mapped_into_the_package():
    assert setuptools_table()["package-dir"]["wnlb_zoo.weights_manifest"] == "weights_manifest"
    assert (ROOT / "weights_manifest" / "README.md").is_file()
