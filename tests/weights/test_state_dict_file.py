"""Weight files that are missing, empty, truncated or not checkpoints give one message naming the file."""

import argparse
import os
import random

import pytest
import timm
import torch
from safetensors.torch import save_file

from wnlb_zoo.weights import StateDictFileError, check_state_dict_file, load_state_dict_file


@pytest.fixture(scope="module")
def state():
    return timm.create_model("wnlb_resnet18", num_classes=0).state_dict()


@pytest.fixture
def files(tmp_path, state):
    """Good and bad weight files, by name."""
    save_file(state, tmp_path / "good.safetensors")
    torch.save(state, tmp_path / "good.pth")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    for name in ("good.safetensors", "good.pth"):
        data = (tmp_path / name).read_bytes()
        (tmp_path / f"truncated{os.path.splitext(name)[1]}").write_bytes(data[: len(data) // 2])
    (tmp_path / "random.pth").write_bytes(random.Random(0).randbytes(4096))
    torch.save({"args": argparse.Namespace(lr=0.1), "model": state}, tmp_path / "training.pth")
    return tmp_path


def create(path):
    overlay = dict(file=str(path))
    return timm.create_model("wnlb_resnet18", pretrained=True, pretrained_cfg_overlay=overlay, num_classes=0)


@pytest.mark.parametrize(
    "name, error, problem",
    [
        ("missing.safetensors", FileNotFoundError, "does not exist"),
        ("empty.safetensors", StateDictFileError, "is empty (0 bytes)"),
        ("truncated.safetensors", StateDictFileError, "not a valid safetensors file"),
        ("truncated.pth", StateDictFileError, "not a valid PyTorch checkpoint"),
    ],
)
def test_a_bad_overlay_file_is_named_with_what_is_wrong(files, name, error, problem):
    with pytest.raises(error) as raised:
        create(files / name)
    assert str(files / name) in str(raised.value) and problem in str(raised.value)


def test_a_random_pth_is_not_a_checkpoint_and_weights_only_stays_on(files):
    for attempt in (lambda path: create(path), load_state_dict_file):
        with pytest.raises(StateDictFileError) as raised:
            attempt(files / "random.pth")
        message = str(raised.value)
        assert f"{files / 'random.pth'} is not a valid PyTorch checkpoint" in message
        assert "Do not load it with weights_only=False unless you trust where it came from" in message
        assert "will likely succeed" not in message


def test_good_files_read_and_pass_the_check(files, state):
    for name in ("good.safetensors", "good.pth"):
        check_state_dict_file(files / name)
        loaded = load_state_dict_file(files / name)
        assert loaded.keys() == state.keys() and torch.equal(loaded["conv1.weight"], state["conv1.weight"])
    with pytest.raises(StateDictFileError, match="Unsupported global: GLOBAL argparse.Namespace"):
        load_state_dict_file(files / "training.pth", key="model")


def test_a_fallback_key_reads_a_state_dict_or_the_checkpoint_entry_in_one_pass(tmp_path, state):
    torch.save({"model": state, "epoch": 3}, tmp_path / "checkpoint.pth")
    torch.save({"weights": state, "epoch": 3}, tmp_path / "other.pth")
    torch.save(state, tmp_path / "plain.pth")
    for name in ("checkpoint.pth", "plain.pth"):
        loaded = load_state_dict_file(tmp_path / name, fallback_key="model")
        assert loaded.keys() == state.keys() and torch.equal(loaded["conv1.weight"], state["conv1.weight"])
    with pytest.raises(StateDictFileError, match="holds a dict, not a state dict of tensors"):
        load_state_dict_file(tmp_path / "other.pth", fallback_key="model")
