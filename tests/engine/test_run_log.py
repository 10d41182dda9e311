"""The run log on ``--resume``: files truncated to the epochs kept, TensorBoard told to purge the re-run ones.

tensorboard is an optional dependency (and may be absent here): a fake ``torch.utils.tensorboard``
records how the writer is opened and what it is given.
"""

import json
import sys
import types

import pytest

from wnlb_zoo.cli.main import main
from wnlb_zoo.engine.run_log import RunLog, RunLogError


class FakeSummaryWriter:
    opened: list["FakeSummaryWriter"] = []

    def __init__(self, log_dir, comment="", purge_step=None, **kwargs):
        self.log_dir, self.purge_step, self.kwargs = log_dir, purge_step, kwargs
        self.scalars: list[tuple[str, float, int]] = []
        self.closed = False
        FakeSummaryWriter.opened.append(self)

    def add_scalar(self, tag, value, global_step=None):
        self.scalars.append((tag, value, global_step))

    def flush(self):
        pass

    def close(self):
        self.closed = True


@pytest.fixture
def writers(monkeypatch) -> list[FakeSummaryWriter]:
    """The fake writers opened during the test, in order."""
    module = types.ModuleType("torch.utils.tensorboard")
    module.SummaryWriter = FakeSummaryWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", module)
    monkeypatch.setattr(FakeSummaryWriter, "opened", [])
    return FakeSummaryWriter.opened


def test_resumed_log_purges_the_re_run_epochs_from_tensorboard(tmp_path, writers):
    log = RunLog(tmp_path)
    for epoch in (1, 2, 3):
        log.append({"epoch": epoch, "train": {"loss": 1.0 / epoch}})
    log.close()  # the killed run had logged epoch 3, its last checkpoint is epoch 1

    resumed = RunLog(tmp_path, resume_epoch=2)
    resumed.append({"epoch": 2, "train": {"loss": 0.4}})
    resumed.close()

    first, second = writers
    assert first.purge_step is None
    assert second.purge_step == 2
    assert second.log_dir == str(tmp_path / "tensorboard") == first.log_dir
    assert first.scalars == [("train/loss", 1.0, 1), ("train/loss", 0.5, 2), ("train/loss", 1.0 / 3, 3)]
    assert second.scalars == [("train/loss", 0.4, 2)]  # the step is the epoch, as purge_step counts
    assert [json.loads(line)["epoch"] for line in (tmp_path / "log.jsonl").read_text().splitlines()] == [1, 2]


def test_a_torn_last_line_is_dropped_on_resume(tmp_path, writers):
    (tmp_path / "log.jsonl").write_text('{"epoch": 1, "train": null}\n{"epoch": 2, "tra')  # killed mid-write
    resumed = RunLog(tmp_path, resume_epoch=2)
    assert resumed.dropped_torn_line and [record["epoch"] for record in resumed.records] == [1]
    assert (tmp_path / "log.jsonl").read_text() == '{"epoch": 1, "train": null}\n'


def test_a_bad_line_before_the_last_is_an_error_naming_file_and_line(tmp_path, writers):
    (tmp_path / "log.jsonl").write_text('{"epoch": 1}\n{"epoch": 2, "tra\n{"epoch": 3}\n')
    with pytest.raises(RunLogError, match=r"log\.jsonl, line 2, is not a log record"):
        RunLog(tmp_path, resume_epoch=3)


@pytest.mark.slow
def test_finetune_resume_opens_tensorboard_at_the_resumed_epoch(tmp_path, tiny_run_args, writers):
    output = tmp_path / "run"
    assert main(tiny_run_args(output, 1, "--no-export")) == 0
    assert main(tiny_run_args(output, 2, "--no-export", "--resume")) == 0
    assert [writer.purge_step for writer in writers] == [None, 2]
    assert [step for *_, step in writers[1].scalars] and {step for *_, step in writers[1].scalars} == {2}
