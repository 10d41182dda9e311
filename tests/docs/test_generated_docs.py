"""The generated parts of the docs are what ``scripts/generate_docs.py`` writes today, for every variant."""

import importlib.util
import time
from pathlib import Path

import timm

ROOT = Path(__file__).resolve().parents[2]


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_docs", ROOT / "scripts" / "generate_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_pages_are_what_the_generator_writes(capsys):
    """Fails when the registry, the manifest or the counting changed without `python scripts/generate_docs.py`."""
    start = time.perf_counter()
    status = load_generator().main(["--check"])
    elapsed = time.perf_counter() - start
    assert status == 0, capsys.readouterr().err
    assert elapsed < 30, f"generating the docs took {elapsed:.1f} s; keep it fast enough for the test suite"


def test_variants_page_lists_every_variant_and_weight():
    page = (ROOT / "docs" / "variants.md").read_text()
    for name in timm.list_models("wnlb_*"):
        assert f"\n## {name}\n" in page
    for name in timm.list_pretrained("wnlb_*"):
        assert f"| [`{name}`](#{name.partition('.')[0]})" in page


def test_lowlight_pictures_exist():
    generator = load_generator()
    pictures, _ = generator.lowlight_examples()
    for name in pictures:
        assert (generator.LOWLIGHT_IMAGES / name).is_file(), name
