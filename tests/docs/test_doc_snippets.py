"""The Python snippets the docs present as working code run as they are."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def snippets(page: str, section: str | None = None) -> list[str]:
    """The ```python blocks of ``page``, or of its ``## section`` only."""
    text = (DOCS / page).read_text()
    if section is not None:
        text = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return FENCE.findall(text)


EXECUTED = [
    *(("index.md", None, index) for index in range(len(snippets("index.md")))),
    *(("frameworks.md", "torchvision", index) for index in range(len(snippets("frameworks.md", "torchvision")))),
    *(("lowlight.md", "Using it", index) for index in range(len(snippets("lowlight.md", "Using it")))),
]


@pytest.mark.slow
@pytest.mark.parametrize(("page", "section", "index"), EXECUTED)
def test_snippet_runs(page, section, index):
    code = snippets(page, section)[index]
    exec(compile(code, f"{page}[{section or ''}#{index}]", "exec"), {"__name__": "__snippet__"})


def test_the_snippets_are_found():
    assert len(snippets("index.md")) == 3
    assert len(snippets("frameworks.md", "torchvision")) == 2
    assert len(snippets("lowlight.md", "Using it")) == 1
