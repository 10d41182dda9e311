"""Run every unfinished cell of a study, one worker process per cell, then write the report.

Each cell is a fine-tuning run of its own in ``OUTPUT/cells/<cell>/``, run in a worker process of
its own (:mod:`wnlb_zoo.compare.worker`; on Linux forked by a fork server that has imported the
libraries once) so that its peak memory and state are its own. Finished
cells (with a ``result.json``) are skipped, a killed cell resumes from its newest intact
checkpoint, and the results file, table and plots are rewritten from every finished cell: a killed
comparison continues where it stopped, and rerunning a finished one only rewrites its report.

Several devices (``devices=["cuda:0", "cuda:1", ...]``) run one cell per device at a time. One cell
per GPU rather than each cell under torchrun: the cells are independent, so they need no
communication, and each keeps the recipe's per-step batch and learning rate and reports one
GPU's throughput, exactly as a run on a single GPU would.
"""

from __future__ import annotations

import ctypes
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..console import log_to_console
from ..engine import config_to_json
from ..models import check_model_name
from .atomic import write_text_atomically
from .cell_folder import CellFolder, recipe_differences
from .plots import write_plots
from .study import Cell, Study, cell_folder_path
from .summary import summarize, write_summary
from .worker import run_cell

_logger = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
STUDY_FILE = "study.json"


class StudyIncompleteError(RuntimeError):
    """One or more cells failed; the others' results and the report were still written."""


@dataclass(frozen=True)
class CellStatus:
    """A cell and whether it is ``finished``, ``partial`` (a killed run with a checkpoint) or ``new``."""

    cell: Cell
    folder: CellFolder
    state: str


def cell_statuses(study: Study, output: str | Path) -> list[CellStatus]:
    """Every cell of ``study`` under ``output`` with its state.

    Raises:
        ValueError: A cell folder holds a run of a different recipe (it names the options that differ).
    """
    statuses = []
    for cell in study.cells():
        folder = CellFolder(cell_folder_path(output, cell))
        recorded = folder.read_spec()
        if recorded is not None:
            differing = recipe_differences(recorded["config"], study.cell_config(cell, output))
            if differing:
                raise ValueError(
                    f"{folder.path} holds a run of another recipe (differing: {', '.join(differing)}). "
                    "Choose another --output for the new recipe, or delete that folder to run it again."
                )
        state = "finished" if folder.read_result() else "partial" if folder.has_checkpoint() else "new"
        statuses.append(CellStatus(cell, folder, state))
    return statuses


def run_study(
    study: Study,
    output: str | Path,
    devices: Sequence[str | None] = (None,),
    command: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Run the unfinished cells of ``study`` into ``output``, then write its results and report.

    Args:
        study: What to run.
        output: The comparison's folder: ``cells/``, ``results.jsonl``, ``summary.md``, ``summary.csv``,
            ``ap_by_point.png``, ``gain_vs_cost.png`` and ``study.json``.
        devices: One cell runs on each at a time (None: the recipe's device).
        command: The command line recorded in every result (default: this process's).

    Returns:
        The records of the finished cells, in the study's order.

    Raises:
        StudyIncompleteError: Some cells failed (naming each and its log); the rest were written.
    """
    output = Path(output)
    for configuration in study.configurations:  # before anything runs: a typo costs seconds
        check_model_name(configuration.backbone)
    statuses = cell_statuses(study, output)
    write_text_atomically(output / STUDY_FILE, json.dumps(describe(study), indent=2) + "\n")
    pending = [status for status in statuses if status.state != "finished"]
    _logger.info("%d of %d cells finished; running %d.", len(statuses) - len(pending), len(statuses), len(pending))
    command = list(sys.argv if command is None else command)
    failed = _run_cells(study, output, pending, list(devices), command, lambda: write_results(statuses, output))
    records = write_results(statuses, output)
    write_report(study, records, output)
    if failed:
        lines = "\n".join(f"  {status.cell.key}: see {status.folder.log_file}" for status in failed)
        raise StudyIncompleteError(f"{len(failed)} cell(s) failed; rerun the same command to retry them:\n{lines}")
    return records


def describe(study: Study) -> dict[str, Any]:
    """The study as JSON: base recipe, configurations, seeds, axis and baseline."""
    return {
        "base": config_to_json(study.base),
        "configurations": [vars(configuration) for configuration in study.configurations],
        "seeds": list(study.seeds),
        "axis": None if study.axis is None else {**vars(study.axis), "values": list(study.axis.values)},
        "baseline": study.baseline_label,
    }


def write_results(statuses: Sequence[CellStatus], output: Path) -> list[dict[str, Any]]:
    """Rewrite ``output/results.jsonl`` with the record of every finished cell, in the study's order; return them."""
    records = [record for status in statuses if (record := status.folder.read_result()) is not None]
    write_text_atomically(output / RESULTS_FILE, "".join(json.dumps(record) + "\n" for record in records))
    return records


def write_report(study: Study, records: list[dict[str, Any]], output: Path) -> None:
    """The summary table (markdown, CSV) and the plots (once a cell has finished) of ``records``."""
    rows = summarize(records, study.baseline_label, [c.label for c in study.configurations])
    write_summary(rows, output, study.baseline_label, axis_title=study.axis.title if study.axis else None)
    if rows:  # nothing to draw before a cell has finished
        write_plots(rows, output, study.baseline_label, axis_title=study.axis.title if study.axis else None)


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``results.jsonl`` (fields: :mod:`wnlb_zoo.compare.record`)."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _run_cells(
    study: Study,
    output: Path,
    pending: list[CellStatus],
    devices: list[str | None],
    command: list[str],
    on_finish: Callable[[], object],
) -> list[CellStatus]:
    """Run ``pending`` on ``devices``, one cell per device at a time; return the cells that failed."""
    queue = list(pending)
    running: dict[int, tuple[CellStatus, _Worker, float]] = {}
    slots = range(len(devices))
    failed = []
    total = len(pending)
    done = 0
    try:
        while queue or running:
            for slot in [slot for slot in slots if slot not in running and queue]:
                status = queue.pop(0)
                running[slot] = (status, _start(study, output, status, devices[slot], command), time.perf_counter())
                where = f" on {devices[slot]}" if devices[slot] else ""
                resumed = " (resuming its killed run)" if status.state == "partial" else ""
                _logger.info("[%d/%d] %s%s%s", done + len(running), total, status.cell.key, where, resumed)
            time.sleep(0.2)
            for slot, (status, process, started) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[slot]
                done += 1
                seconds = time.perf_counter() - started
                record = status.folder.read_result() if process.returncode == 0 else None
                if record is None:
                    failed.append(status)
                    log_file = status.folder.log_file
                    _logger.info("  %s failed (exit %s): see %s", status.cell.key, process.returncode, log_file)
                    continue
                final = record["final"]
                _logger.info(
                    "  %s: box AP %s, mask AP %s, %.2f img/s, %.0f s",
                    status.cell.key, _percent(final["bbox"]["AP"]), _percent(final["segm"]["AP"]),
                    record["train_img_per_s"], seconds,
                )  # fmt: skip
                on_finish()
    finally:  # interrupted: stop the workers (their cells resume next time)
        for _, process, _ in running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for _, process, _ in running.values():
            process.wait()
    return failed


def _start(study: Study, output: Path, status: CellStatus, device: str | None, command: list[str]) -> _Worker:
    config_json = config_to_json(study.cell_config(status.cell, output))
    environment = {}
    if device is not None and device.startswith("cuda:"):  # the worker sees its GPU alone, as "cuda"
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        index = int(device.split(":", 1)[1])
        environment["CUDA_VISIBLE_DEVICES"] = visible.split(",")[index] if visible else str(index)
        device = "cuda"
    if device is not None:
        config_json["device"] = device
    spec = {"cell": _cell_fields(study, status.cell), "config": config_json, "command": command}
    status.folder.write_spec(spec)
    if sys.platform == "linux":
        return _ForkedWorker(status.folder, environment)
    with status.folder.log_file.open("a") as log:  # elsewhere: a fresh interpreter
        return subprocess.Popen(
            [sys.executable, "-m", "wnlb_zoo.compare.worker", str(status.folder.path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **environment},
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


class _ForkedWorker:
    """A cell's worker forked by multiprocessing's fork server, which has imported torch and the engine once.

    Forking saves each cell the seconds a fresh interpreter spends importing them. The workers are
    forked from the server, never from this process: a child forked from a process that has run
    torch's OpenMP thread pool (any CPU work before the comparison, e.g. in a notebook or a test
    session) deadlocks in its first parallel operation, and one forked after CUDA was initialised
    cannot use the GPU; the server does neither. It has the interface of :class:`subprocess.Popen`
    that :func:`_run_cells` uses.
    """

    def __init__(self, folder: CellFolder, environment: dict[str, str]) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])  # read when the server starts: the first cell of a process
        self.process = context.Process(target=_forked_worker_main, args=(str(folder.path), environment, os.getpid()))
        self.process.start()

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    def poll(self) -> int | None:
        return self.process.exitcode

    def send_signal(self, number: int) -> None:
        os.kill(self.process.pid, number)

    def wait(self) -> int | None:
        self.process.join()
        return self.process.exitcode


_Worker = subprocess.Popen | _ForkedWorker


def _forked_worker_main(path: str, environment: dict[str, str], comparison: int) -> None:
    """In the forked worker: die with the comparison (pid ``comparison``), write to the cell's log, run the cell."""
    _die_with_parent()  # the fork server: it outlives a SIGKILLed comparison by a while
    threading.Thread(target=_exit_when_gone, args=(comparison,), name="wnlb-zoo-watch-comparison", daemon=True).start()
    os.environ.update(environment)
    folder = CellFolder(path)
    log = folder.log_file.open("a", buffering=1)
    os.dup2(log.fileno(), 1)  # what libraries write to the file descriptors too
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    log_to_console()  # the run's progress, into the log
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run_cell(folder)
    except BaseException:
        traceback.print_exc()
        log.flush()
        os._exit(1)
    log.flush()


def _cell_fields(study: Study, cell: Cell) -> dict[str, Any]:
    return {
        "cell": cell.key,
        "label": cell.configuration.label,
        "backbone": cell.configuration.backbone,
        "backbone_kwargs": dict(cell.configuration.backbone_kwargs),
        "seed": cell.seed,
        "axis": study.axis.option if study.axis else None,
        "point_index": cell.point_index,
        "point": cell.point,
    }


def _exit_when_gone(pid: int, interval: float = 0.2) -> None:
    """In a forked worker: end the process as soon as the comparison ``pid`` is gone (also after a SIGKILL)."""
    while True:
        time.sleep(interval)
        try:  # gone, or killed and not yet reaped (a zombie: state Z)
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            os._exit(1)
        if state in ("Z", "X"):
            os._exit(1)


def _die_with_parent() -> None:
    """In a worker, before it runs: be killed when the comparison dies, even by SIGKILL (Linux).

    Otherwise an orphaned worker would go on training and hold its cell's run lock against the rerun.
    """
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"
