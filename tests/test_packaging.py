"""The distribution ships every package, and the weights manifest as package data."""

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parents[1]


def setuptools_table() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_is_listed_in_pyproject():
    found = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "wnlb_zoo").rglob("__init__.py")}
    assert found | {"wnlb_zoo.weights_manifest", "wnlb_zoo.results"} == set(setuptools_table()["packages"])


def test_manifest_directory_is_mapped_into_the_package():
    assert setuptools_table()["package-dir"]["wnlb_zoo.weights_manifest"] == "weights_manifest"
    assert (ROOT / "weights_manifest" / "README.md").is_file()


def test_published_comparisons_are_mapped_into_the_package():
    """``wnlb-zoo info`` reads the published comparisons' study.json and results.jsonl from an installed wheel."""
    table = setuptools_table()
    assert table["package-dir"]["wnlb_zoo.results"] == "docs/results"
    patterns = table["package-data"]["wnlb_zoo.results"]
    published = [path.parent for path in (ROOT / "docs" / "results").glob("*/results.jsonl")]
    assert published
    for folder in published:
        for name in ("study.json", "results.jsonl"):
            assert any((folder / name).match(f"docs/results/{pattern}") for pattern in patterns), (folder, name)
