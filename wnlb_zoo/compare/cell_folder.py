"""A cell's folder: the fine-tuning run itself, what it was asked to run, and its result once finished.

``cell.json`` holds the cell and its full recipe before the run starts, ``result.json`` the
record of the finished run (:mod:`wnlb_zoo.compare.record`), ``cell.log`` the run's output;
the rest is the ordinary ``finetune`` output folder (checkpoints, ``log.jsonl``, export).
A cell is finished when its ``result.json`` exists; a rerun of the comparison skips it. A cell
whose recorded recipe differs from the one asked for now is refused, not silently mixed in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..engine import FinetuneConfig, config_to_json
from ..engine.checkpoint import checkpoint_candidates
from .atomic import write_text_atomically

# The JSON form of a recipe is the engine's (cell.json holds what run folders hold); imported from here too.
__all__ = ["RUN_ONLY_OPTIONS", "CellFolder", "recipe_differences"]

#: Options that say where and how fast a cell runs, not what it trains: they may differ on a rerun.
RUN_ONLY_OPTIONS = ("device", "workers", "eval_batch_size", "export", "output", "resume")


def recipe_differences(recorded: dict[str, Any], wanted: FinetuneConfig) -> list[str]:
    """The options (``data.*`` for data settings) in which a cell's recorded recipe differs from ``wanted``.

    An option the recorded recipe lacks (added to the engine since) counts as its default.
    """
    defaults = config_to_json(FinetuneConfig())
    wanted_json = config_to_json(wanted)
    differing = []
    for name, value in wanted_json.items():
        if name in RUN_ONLY_OPTIONS:
            continue
        if name == "data":
            for key, item in value.items():
                if recorded.get("data", {}).get(key, defaults["data"][key]) != item:
                    differing.append(f"data.{key}")
        elif recorded.get(name, defaults[name]) != value:
            differing.append(name)
    return differing


class CellFolder:
    """The files of one cell under ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.spec_file = self.path / "cell.json"
        self.result_file = self.path / "result.json"
        self.log_file = self.path / "cell.log"

    def write_spec(self, spec: dict[str, Any]) -> None:
        write_text_atomically(self.spec_file, json.dumps(spec, indent=2) + "\n")

    def read_spec(self) -> dict[str, Any] | None:
        return _read_json(self.spec_file)

    def write_result(self, record: dict[str, Any]) -> None:
        write_text_atomically(self.result_file, json.dumps(record, indent=2) + "\n")

    def read_result(self) -> dict[str, Any] | None:
        """The finished run's record, or None while the cell is not finished."""
        return _read_json(self.result_file)

    def has_checkpoint(self) -> bool:
        """Whether a run started here saved a checkpoint (then the cell resumes from it)."""
        return bool(checkpoint_candidates(self.path))


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); delete it to run that cell again.") from None
