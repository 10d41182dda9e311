"""The generated parts of the docs are what ``scripts/generate_docs.py`` writes today, for every variant."""

import importlib.util
from pathlib import Path

import timm
from torchvision.io import decode_png, read_file

ROOT = Path(__file__).resolve().parents[2]


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_docs", ROOT / "scripts" / "generate_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_pages_are_what_the_generator_writes(capsys):
    """Fails when the registry, the manifest or the counting changed without `python scripts/generate_docs.py`."""
    assert load_generator().main(["--check"]) == 0, capsys.readouterr().err


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


def test_benchmark_plots_are_drawn_from_the_raw_files(tmp_path):
    generator = load_generator()
    figures, snippets = generator.benchmark_figures()
    for name, draw in figures.items():
        assert (generator.BENCHMARK_IMAGES / name).is_file(), name  # committed, shown by the page
        assert min(decode_png(read_file(str(draw(tmp_path / name)))).shape[-2:]) > 100, name
    for text in snippets.values():
        assert "Device: NVIDIA H200" in text  # the caption names the device the numbers come from
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    for path in snippets:
        assert f'--8<-- "snippets/{path.name}"' in page
