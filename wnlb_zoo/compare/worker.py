"""Run one cell of a comparison in this process: ``python -m wnlb_zoo.compare.worker CELL_FOLDER``.

The comparison runs each cell in a process of its own, so that each run's peak memory (the process's
resident set on a CPU) and global state are its own: on Linux a fork of the comparison that calls
:func:`run_cell` (:mod:`wnlb_zoo.compare.runner`), elsewhere (or once the comparison's process has
initialised CUDA) this module as a fresh interpreter. The worker reads ``cell.json``, trains with
:func:`wnlb_zoo.engine.finetune` (continuing the newest intact checkpoint of a killed run, if one
is there), and writes ``result.json`` last: a cell killed at any point before is simply run (or
resumed) again.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import torch

from ..benchmark.environment import environment_record
from ..console import log_to_console
from ..engine import config_from_json, finetune
from .cell_folder import CellFolder
from .record import training_summary


def run_cell(folder: CellFolder) -> dict:
    """Train the cell in ``folder`` (or finish its killed run) and write its result record."""
    spec = folder.read_spec()
    if spec is None:
        raise FileNotFoundError(f"{folder.spec_file} is missing: the comparison writes it before starting a cell.")
    config = config_from_json(spec["config"])
    resumed = folder.has_checkpoint()
    config = dataclasses.replace(config, output=str(folder.path), resume="auto" if resumed else None)
    start = time.perf_counter()
    finetune(config)
    wall_s = time.perf_counter() - start
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    environment = environment_record(device, spec["command"])
    record = {
        **spec["cell"],
        **training_summary(folder.path),
        "wall_s": wall_s,
        "resumed": resumed,
        "dataset": config.data.dataset,
        "epochs": config.epochs,
        "config": spec["config"],
        "command": environment.pop("command"),
        "environment": environment,
    }
    folder.write_result(record)
    return record


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m wnlb_zoo.compare.worker CELL_FOLDER", file=sys.stderr)
        return 2
    log_to_console()
    run_cell(CellFolder(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
