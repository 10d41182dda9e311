"""The command's console output: the package's log messages to the streams of the moment, one handler however
often it is set up, and still seen by root handlers (pytest's caplog)."""

from __future__ import annotations

import io
import logging
import sys

from wnlb_zoo.console import PACKAGE_LOGGER, ConsoleHandler, log_to_console


def test_information_goes_to_stdout_and_warnings_to_stderr_as_they_are_at_the_time(monkeypatch, caplog):
    log_to_console()
    log_to_console()  # a second command in the same process
    handlers = [h for h in logging.getLogger(PACKAGE_LOGGER).handlers if isinstance(h, ConsoleHandler)]
    assert len(handlers) == 1
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)  # redirected after the handler was made
    monkeypatch.setattr(sys, "stderr", err)
    logger = logging.getLogger(f"{PACKAGE_LOGGER}.engine.finetune")
    logger.info("epoch %d/%d", 1, 2)
    logger.warning("careful")
    logger.debug("not shown")
    assert out.getvalue() == "epoch 1/2\n"
    assert err.getvalue() == "careful\n"
    assert [record.getMessage() for record in caplog.records] == ["epoch 1/2", "careful"]
