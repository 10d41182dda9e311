"""The run lock: one run per output directory, and nothing left stuck by a run that died."""

import json
import multiprocessing
import os
import socket
import time

import pytest

from wnlb_zoo.engine.run_lock import LOCK_FILE, RunInUseError, RunLock


def test_a_second_hold_is_refused_naming_the_holder_and_the_ways_out(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunInUseError) as refused:
            with RunLock(tmp_path):
                pass
    message = str(refused.value)
    assert f"PID {os.getpid()} on {socket.gethostname()}" in message
    assert "--resume" in message and "another --output" in message
    with RunLock(tmp_path):  # released when the holder left
        pass


def test_the_record_of_a_dead_holder_does_not_block(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": 999999, "host": "gone", "started": 0}))
    with RunLock(tmp_path):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()


def test_a_forked_child_does_not_keep_the_lock_after_its_parent_let_go(tmp_path):
    """DataLoader workers are forked: a worker outliving its killed parent must not hold the run directory."""
    context = multiprocessing.get_context("fork")
    started = context.Event()

    def work() -> None:  # as a worker: running, after the fork handlers
        started.set()
        time.sleep(60)

    with RunLock(tmp_path):
        child = context.Process(target=work, daemon=True)
        child.start()
        assert started.wait(30)
    try:
        assert child.is_alive()
        with RunLock(tmp_path):  # the live child shares the lock's open file, but closed it at fork
            pass
    finally:
        child.kill()
        child.join()
