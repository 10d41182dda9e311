"""Fault injection on real ``finetune`` processes: a second run into a busy ``--output``, SIGKILL with a
torn log line, Ctrl-C, and a damaged last checkpoint. Every run is of one step per epoch (seconds)."""

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from wnlb_zoo.cli.main import main
from wnlb_zoo.engine.checkpoint import WEIGHTS_FILE, verify_checkpoint
from wnlb_zoo.engine.run_lock import LOCK_FILE

pytestmark = pytest.mark.slow


def start(args: list[str]) -> subprocess.Popen:
    """``wnlb-zoo ARGS`` in a process of its own (to be killed, interrupted or raced)."""
    return subprocess.Popen(
        [sys.executable, "-m", "wnlb_zoo", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def wait_for(condition, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        assert process.poll() is None, f"the run ended before {what}: {process.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, f"no {what} after 300 s"
        time.sleep(0.1)


def holder_pid(output) -> int | None:
    try:
        return json.loads((output / LOCK_FILE).read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def run_in_process(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def epochs_logged(output) -> list[int]:
    return [json.loads(line)["epoch"] for line in (output / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def contested_run(tmp_path_factory, one_step_run_args):
    """A two-epoch run, and what a second run (fresh, then ``--resume``) into its --output got meanwhile."""
    output = tmp_path_factory.mktemp("contested") / "run"
    first = start(one_step_run_args(output, 2, "--no-export"))
    wait_for(lambda: holder_pid(output) == first.pid, first, "the run held its --output")
    refusals = [run_in_process(one_step_run_args(output, 2, "--no-export", *resume)) for resume in ([], ["--resume"])]
    still_running = first.poll() is None
    _, first_err = first.communicate(timeout=300)
    return output, first, first_err, still_running, refusals


def test_a_second_run_into_a_busy_output_is_refused_and_the_first_is_unharmed(contested_run):
    output, first, first_err, still_running, refusals = contested_run
    assert still_running, "the first run ended before the second one tried"
    for code, out, err in refusals:
        assert code == 2 and out == ""
        assert f"is in use by another run (PID {first.pid} on {socket.gethostname()}" in err
    assert first.returncode == 0, first_err[-2000:]
    assert epochs_logged(output) == [1, 2]
    assert json.loads((output / "args.json").read_text())["epochs"] == 2
    assert (output / "last").resolve().name == "epoch_002"
    verify_checkpoint(output / "last")


def test_a_damaged_last_checkpoint_falls_back_to_the_previous_intact_one(contested_run, tmp_path, one_step_run_args):
    output = tmp_path / "run"
    shutil.copytree(contested_run[0], output, symlinks=True)
    weights = output / "last" / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a bit flip: the file still parses, only its checksum tells
    weights.write_bytes(bytes(data))

    code, out, err = run_in_process(one_step_run_args(output, 2, "--no-export", "--resume"))
    assert code == 0, err
    assert f"Skipping {output / 'checkpoints' / 'epoch_002'}: " in out and "corrupt or truncated" in out
    assert f"Resuming from {output / 'checkpoints' / 'epoch_001'}, the newest intact checkpoint." in out
    assert epochs_logged(output) == [1, 2]
    assert (output / "last").resolve().name.startswith("epoch_002_")  # epoch 2 again, beside the damaged one
    verify_checkpoint(output / "last")


def test_a_sigkilled_run_with_a_torn_log_line_resumes(tmp_path, one_step_run_args):
    output = tmp_path / "run"
    killed = start(one_step_run_args(output, 2, "--no-export"))
    wait_for((output / "last").exists, killed, "the first checkpoint")
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    with (output / "log.jsonl").open("a") as log:
        log.write('{"epoch": 2, "train": {"lo')  # as if killed while appending epoch 2's record
    staging = output / "checkpoints" / f".staging_epoch_002_{killed.pid}"
    staging.mkdir()  # as if killed while saving epoch 2

    code, out, err = run_in_process(one_step_run_args(output, 2, "--no-export", "--resume"))
    assert code == 0, err  # the lock died with the run
    assert "Dropped the torn last line" in out
    assert epochs_logged(output) == [1, 2]
    assert not staging.exists()


def test_ctrl_c_prints_one_line_naming_the_checkpoint_and_the_resume_command(tmp_path, one_step_run_args):
    output = tmp_path / "run"
    interrupted = start(one_step_run_args(output, 1000, "--no-export"))  # far more epochs than it gets to run
    wait_for((output / "last").exists, interrupted, "the first checkpoint")
    interrupted.send_signal(signal.SIGINT)
    try:
        _, err = interrupted.communicate(timeout=120)
    finally:
        interrupted.kill()
    assert interrupted.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    last = output / "checkpoints" / (output / "last").resolve().name  # whichever epoch it had reached
    assert err.splitlines()[-1] == (
        f"wnlb-zoo finetune: interrupted; the last intact checkpoint is {last}. "
        f"Continue with: wnlb-zoo finetune --output {output} --resume"
    )
    verify_checkpoint(last)
