"""The training step: crowd filtering, non-finite losses, accumulation, losses over ranks; and the LR schedule."""

import math

import pytest
import torch
from torch import nn

from wnlb_zoo.engine import distributed
from wnlb_zoo.engine.distributed import DistributedContext
from wnlb_zoo.engine.schedule import build_scheduler, lr_multiplier
from wnlb_zoo.engine.train_loop import NonFiniteLossError, StepSettings, train_one_epoch, without_crowd

CPU = DistributedContext(0, 1, 0, torch.device("cpu"))


class LossModel(nn.Module):
    """Returns a loss that becomes NaN on the call numbered ``nan_at`` (0-based)."""

    def __init__(self, nan_at: int | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(()))
        self.calls = 0
        self.nan_at = nan_at

    def forward(self, images, targets):
        loss = self.weight * sum(image.mean() for image in images)
        if self.calls == self.nan_at:
            loss = loss * float("nan")
        self.calls += 1
        return {"loss_a": loss, "loss_b": loss * 0.5}


def run_epoch(model, batches, settings=None, context=CPU):
    settings = settings or StepSettings()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = build_scheduler(optimizer, total_steps=10, warmup_steps=0, schedule="constant")
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    return train_one_epoch(model, optimizer, scheduler, scaler, batches, context, settings, epoch=3, first_step=20)


def batches(count):
    return [
        ([torch.ones(3, 4, 4)], [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}])
    ] * count


def test_non_finite_loss_names_the_step_and_skips_the_update():
    model = LossModel(nan_at=2)
    with pytest.raises(NonFiniteLossError, match=r"epoch 3, step 2 \(global step 22\).*loss_a=nan") as caught:
        run_epoch(model, batches(4))
    assert model.weight.item() == pytest.approx(1 - 2 * 0.1 * 1.5)  # two updates happened, not the third
    assert "checkpoint" not in str(caught.value)  # the loop cannot know whether one exists: finetune says


def test_gradient_accumulation_updates_every_k_batches():
    model = LossModel()
    stats = run_epoch(model, batches(4), StepSettings(grad_accum=2))
    assert model.weight.item() == pytest.approx(1 - 2 * 0.1 * 1.5)  # 2 updates, each of the mean gradient
    # The epoch's mean loss is that of the four batches: two at weight 1 (loss 1.5), two after the update.
    assert stats["loss"] == pytest.approx((2 * 1.5 + 2 * 1.5 * (1 - 0.1 * 1.5)) / 4)
    assert {"loss_a", "loss_b", "img_per_s", "lr", "peak_memory_mib"} <= stats.keys()


def test_last_partial_accumulation_group_is_averaged_over_its_own_batches():
    model = LossModel()
    run_epoch(model, batches(5), StepSettings(grad_accum=2))  # groups of 2, 2 and 1 batches
    assert model.weight.item() == pytest.approx(1 - 3 * 0.1 * 1.5)  # three updates of the same mean gradient


def test_logged_losses_are_the_mean_over_ranks(monkeypatch):
    """In a world of two ranks whose other rank has three times these losses, the log shows twice them."""

    def all_reduce_with_another_rank(tensor, op=None, **kwargs):
        tensor.mul_(4)  # this rank's values plus the other rank's (3x)

    monkeypatch.setattr(distributed.dist, "all_reduce", all_reduce_with_another_rank)
    alone = run_epoch(LossModel(), batches(3))
    in_world = run_epoch(LossModel(), batches(3), context=DistributedContext(0, 2, 0, torch.device("cpu")))
    for name in ("loss", "loss_a", "loss_b"):
        assert in_world[name] == pytest.approx(2 * alone[name])


def test_crowd_instances_are_removed_from_training_targets():
    target = {
        "boxes": torch.tensor([[0.0, 0, 2, 2], [1, 1, 3, 3]]),
        "labels": torch.tensor([1, 2]),
        "masks": torch.zeros(2, 4, 4, dtype=torch.uint8),
        "iscrowd": torch.tensor([0, 1]),
        "area": torch.tensor([4.0, 4.0]),
        "image_id": 7,
    }
    kept = without_crowd(target)
    assert kept["labels"].tolist() == [1] and kept["masks"].shape[0] == 1 and kept["image_id"] == 7


def test_schedule_warmup_cosine_and_steps():
    assert lr_multiplier(0, 100, 10, "cosine") == pytest.approx(0.001)
    assert lr_multiplier(10, 100, 10, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.1)))
    assert lr_multiplier(100, 100, 0, "cosine") == pytest.approx(0.0)
    assert lr_multiplier(55, 100, 0, "step", milestones=(50, 80)) == pytest.approx(0.1)
    assert lr_multiplier(85, 100, 0, "step", milestones=(50, 80)) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="Unknown schedule 'linear'"):
        lr_multiplier(0, 10, 0, "linear")
