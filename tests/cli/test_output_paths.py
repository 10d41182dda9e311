"""Output paths are checked before a command works: each failure names the option and the path."""

from __future__ import annotations

import pytest

from wnlb_zoo.cli import output_paths
from wnlb_zoo.cli.main import main
from wnlb_zoo.cli.output_paths import OutputPathError, writable_directory, writable_file, writable_files


def test_directory_is_created_and_returned(tmp_path):
    target = tmp_path / "a" / "b"
    assert writable_directory(target, "--output") == target
    assert target.is_dir()


def test_directory_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "taken"
    target.write_text("x")
    with pytest.raises(OutputPathError, match=r"--output .*taken is a file"):
        writable_directory(target, "--output")


def test_unwritable_directory_is_refused(unwritable_dir):
    with pytest.raises(OutputPathError, match=r"--output .* cannot be written"):
        writable_directory(unwritable_dir / "run", "--output")


def test_file_that_is_a_folder_is_refused(tmp_path):
    with pytest.raises(OutputPathError, match=r"--out .* is a folder"):
        writable_file(tmp_path, "--out")


def test_file_below_a_file_is_refused(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(OutputPathError, match=r"is a file, not a folder"):
        writable_file(tmp_path / "plain" / "metrics.json", "--output")


def test_file_in_unwritable_folder_is_refused(unwritable_dir):
    with pytest.raises(OutputPathError, match="cannot be written"):
        writable_file(unwritable_dir / "metrics.json", "--output")


def test_many_files_prove_each_folder_once(tmp_path, monkeypatch):
    """``darken`` of 10,000 images checks its output folders, not 10,000 temporary files."""
    proved = []
    monkeypatch.setattr(output_paths, "writable_directory", lambda path, option: proved.append(path))
    paths = [tmp_path / "a" / f"{index}.png" for index in range(100)] + [tmp_path / "b" / "x.png"]
    assert writable_files(paths, "DST") == paths
    assert proved == [tmp_path / "a", tmp_path / "b"]


def test_an_interrupted_rank_without_a_message_prints_nothing(monkeypatch, capsys):
    """Under torchrun every rank gets Ctrl-C; only rank 0's interruption has a message, and one line is printed."""
    from wnlb_zoo.cli import finetune
    from wnlb_zoo.engine import TrainingInterrupted

    def interrupted(args):
        raise TrainingInterrupted()

    monkeypatch.setattr(finetune, "run_finetune", interrupted)
    assert main(["finetune", "--output", "unused"]) == 130
    assert capsys.readouterr().err == ""


def test_keyboard_interrupt_is_one_line_and_exit_130(monkeypatch, capsys):
    from wnlb_zoo.cli import list_models

    def interrupted(args):
        raise KeyboardInterrupt("stopped; resume with X")

    monkeypatch.setattr(list_models, "run", interrupted)  # read when main() builds its parser
    assert main(["list"]) == 130
    assert capsys.readouterr().err.strip() == "wnlb-zoo list: stopped; resume with X"


def test_permission_error_is_a_message_not_a_traceback(monkeypatch, capsys):
    from wnlb_zoo.cli import list_models

    def denied(args):
        raise PermissionError(13, "Permission denied", "/somewhere/out.json")

    monkeypatch.setattr(list_models, "run", denied)
    assert main(["list"]) == 2
    assert "Permission denied: '/somewhere/out.json'" in capsys.readouterr().err


def test_loader_worker_error_is_shown_without_the_worker_traceback(monkeypatch, capsys):
    import torch
    from torch.utils.data import DataLoader, Dataset

    from wnlb_zoo.cli import list_models
    from wnlb_zoo.data import ImageReadError

    class BrokenImages(Dataset):
        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: int) -> torch.Tensor:
            raise ImageReadError("train.json: image id 7: img.jpg is truncated")

    def load(args):
        next(iter(DataLoader(BrokenImages(), num_workers=1)))

    monkeypatch.setattr(list_models, "run", load)
    assert main(["list"]) == 2
    assert capsys.readouterr().err.strip() == "wnlb-zoo list: error: train.json: image id 7: img.jpg is truncated"
