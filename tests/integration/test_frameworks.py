"""The wNLB models in the frameworks that take a timm backbone by name, as ``docs/frameworks.md`` shows them.

Each framework's section of the page has a "build" snippet (leaving ``model``) and a "step" snippet
(leaving a ``loss`` or ``logits`` it has back-propagated); the test runs them in one namespace, with
every wNLB gate opened in between, and checks that the gradient reached the blocks' attention
(``theta``: a closed gate or a detached path would leave it without one).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from wnlb_zoo.layers import WeightedNonLocalBlock

PAGE = Path(__file__).resolve().parents[2] / "docs" / "frameworks.md"
#: A fenced Python block at the start of a line; the untested adapters sit indented in admonitions.
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^(#{2,3}) (.+)$", re.MULTILINE)


def section_snippets(title: str) -> list[str]:
    """The Python blocks under the heading ``title`` (## or ###), up to the next heading."""
    text = PAGE.read_text()
    headings = list(HEADING.finditer(text))
    starts = [index for index, heading in enumerate(headings) if heading.group(2) == title]
    assert len(starts) == 1, f"no single heading {title!r} in {PAGE.name}"
    start = headings[starts[0]]
    end = headings[starts[0] + 1].start() if starts[0] + 1 < len(headings) else len(text)
    return FENCE.findall(text, start.end(), end)


#: Section -> the variable its step snippet leaves, whose backward has run.
FRAMEWORKS = {"DETR": "loss", "Mask2Former": "loss", "segmentation_models_pytorch": "logits", "effdet": "loss"}


@pytest.mark.slow
@pytest.mark.parametrize("section", FRAMEWORKS)
def test_documented_training_step_reaches_the_wnlb_attention(section, open_gates):
    build, step = section_snippets(section)
    namespace = {"__name__": "__snippet__"}
    exec(compile(build, f"frameworks.md[{section}#build]", "exec"), namespace)
    model = open_gates(namespace["model"])
    blocks = [module for module in model.modules() if isinstance(module, WeightedNonLocalBlock)]
    exec(compile(step, f"frameworks.md[{section}#step]", "exec"), namespace)
    result = namespace[FRAMEWORKS[section]]
    assert torch.isfinite(result).all()
    for block in blocks:
        gradient = block.theta.weight.grad
        assert gradient is not None and gradient.abs().sum() > 0, f"{section}: no gradient through a wNLB's attention"


def test_every_tested_snippet_of_the_page_is_run():
    text = PAGE.read_text()
    titles = [heading.group(2) for heading in HEADING.finditer(text)]
    with_code = {title for title in titles if section_snippets(title)}
    # torchvision's run in tests/docs; detectron2's and mmdetection's code is indented in "Untested" admonitions.
    assert with_code == {*FRAMEWORKS, "torchvision", "Frameworks that save a model and rebuild it by name"}
    for title in ("detectron2", "mmdetection"):
        assert "Untested" in text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


RELOAD = """
from transformers import DetrForObjectDetection
{import_line}
DetrForObjectDetection.from_pretrained({folder!r})
"""


@pytest.mark.slow
def test_a_saved_model_reloads_in_a_fresh_process_once_wnlb_zoo_is_imported(tmp_path, monkeypatch):
    (import_snippet,) = section_snippets("Frameworks that save a model and rebuild it by name")
    namespace = {"__name__": "__snippet__"}
    exec(compile(section_snippets("DETR")[0], "frameworks.md[DETR#build]", "exec"), namespace)
    namespace["model"].save_pretrained(tmp_path / "detr")

    def reload(import_line: str) -> subprocess.CompletedProcess:
        code = RELOAD.format(import_line=import_line, folder=str(tmp_path / "detr"))
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)

    without = reload("")
    assert without.returncode != 0 and "Unknown model (wnlb_resnet18)" in without.stderr
    with_import = reload(import_snippet)
    assert with_import.returncode == 0, with_import.stderr[-2000:]
