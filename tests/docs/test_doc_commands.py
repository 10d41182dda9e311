"""The ``evaluate`` and ``predict`` commands of the README and the fine-tuning page run as a user types them.

Each is taken from the page's ``bash`` blocks (continuation lines joined, comments dropped, globs
expanded as a shell would) and run in a folder laid out as the commands assume: ``runs/mine``
(a tiny trained run), ``test.json`` and ``test/`` (a COCO-format test set of its classes).
"""

import glob
import re
import shlex
import shutil
from pathlib import Path

import pytest

from wnlb_zoo.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
BASH = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
PAGES = {"README.md": "Fine-tune on your dark data", "docs/finetuning.md": "Evaluating and looking at predictions"}
COMMANDS = ("evaluate", "predict")


def commands(page: str, section: str) -> list[list[str]]:
    """The ``wnlb-zoo evaluate`` / ``predict`` command lines of ``page``'s ``## section``, as argv lists."""
    text = (ROOT / page).read_text().split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for block in BASH.findall(text) for line in block.replace("\\\n", " ").splitlines()]
    argvs = [shlex.split(line, comments=True) for line in lines]
    return [argv[1:] for argv in argvs if argv[:1] == ["wnlb-zoo"] and argv[1] in COMMANDS]


CASES = [(page, index) for page, section in PAGES.items() for index in range(len(commands(page, section)))]


def test_the_commands_are_found():
    found = {page: [argv[0] for argv in commands(page, section)] for page, section in PAGES.items()}
    assert found == {"README.md": ["evaluate", "predict"], "docs/finetuning.md": ["evaluate"] * 3 + ["predict"]}


@pytest.mark.slow
@pytest.mark.parametrize(("page", "index"), CASES)
def test_command_runs_as_written(page, index, trained_checkpoint, coco_dataset, tmp_path, monkeypatch):
    images, annotations = coco_dataset
    shutil.copytree(trained_checkpoint.parent, tmp_path / "runs" / "mine", symlinks=True)
    shutil.copytree(images, tmp_path / "test")
    shutil.copy(annotations, tmp_path / "test.json")
    monkeypatch.chdir(tmp_path)
    argv = commands(page, PAGES[page])[index]
    expanded = [match for word in argv for match in (sorted(glob.glob(word)) if "*" in word else [word])]
    assert main(expanded) == 0, expanded
    if argv[0] == "predict":
        assert len(list(Path("predictions").glob("*.pred.png"))) == 6
        assert Path("predictions/detections.json").is_file()
    else:
        output = argv[argv.index("--output") + 1] if "--output" in argv else "runs/mine/best/evaluation.json"
        assert Path(output).is_file()
