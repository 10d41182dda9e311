"""One training epoch of a torchvision detector: AMP, gradient accumulation, clipping, DDP.

Crowd regions (``iscrowd=1``) are removed from the targets here: they are kept in the datasets
so that COCO evaluation can ignore detections on them, but they are not objects to learn.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader

from .distributed import DistributedContext, mean_over_ranks
from .peak_memory import PeakMemory
from .progress import progress_bar


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or infinite."""


@dataclass(frozen=True)
class StepSettings:
    """How each batch turns into an optimiser update."""

    amp_dtype: torch.dtype | None = None
    grad_accum: int = 1
    clip_grad: float | None = None


def without_crowd(target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The target without its crowd instances (torchvision's losses know no ``iscrowd``)."""
    if "iscrowd" not in target:
        return target
    keep = target["iscrowd"] == 0
    return {k: (v[keep] if k in ("boxes", "labels", "masks", "area", "iscrowd") else v) for k, v in target.items()}


def _to_device(target: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in target.items()}


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    loader: DataLoader,
    context: DistributedContext,
    settings: StepSettings,
    epoch: int,
    first_step: int,
) -> dict[str, float]:
    """Train for one pass over ``loader``; return mean losses (over steps and ranks), throughput and peak memory.

    With ``grad_accum`` k, each optimiser update averages the gradients of k batches; the last
    group of an epoch may hold fewer, and is averaged over the batches it holds.

    Raises:
        NonFiniteLossError: naming the epoch, the step and each loss term, as soon as the total
            loss of any rank is not finite (checked on all ranks together, before the update, so
            the weights stay as they were).
    """
    model.train()
    device = context.device
    memory = PeakMemory(device).start()  # the epoch's peak
    sums: dict[str, float] = {}
    images_seen = 0
    start = time.perf_counter()
    bar = progress_bar(loader, f"epoch {epoch}", enabled=context.is_main)
    optimizer.zero_grad(set_to_none=True)
    for index, (images, targets) in enumerate(bar):
        step = first_step + index
        images = [image.to(device, non_blocking=True) for image in images]
        targets = [_to_device(without_crowd(t), device) for t in targets]
        update = (index + 1) % settings.grad_accum == 0 or index + 1 == len(loader)
        group_start = index - index % settings.grad_accum  # the group's size divides its losses
        group_size = min(settings.grad_accum, len(loader) - group_start)
        sync = contextlib.nullcontext() if update or not context.distributed else model.no_sync()
        with sync:
            with torch.autocast(device.type, dtype=settings.amp_dtype, enabled=settings.amp_dtype is not None):
                losses = model(images, targets)
            loss = sum(losses.values())
            # One host sync per step: every loss term, averaged over the ranks, in one transfer.
            values = torch.stack([loss.detach().float(), *(v.detach().float() for v in losses.values())])
            mean_losses = mean_over_ranks(values, context).tolist()
            if not all(math.isfinite(value) for value in mean_losses):
                terms = ", ".join(f"{name}={value:.4g}" for name, value in zip(losses, mean_losses[1:], strict=True))
                raise NonFiniteLossError(
                    f"Non-finite loss at epoch {epoch}, step {index} (global step {step}): {terms}. "
                    "Training stopped before this update. Lower --lr, add --clip-grad, or use --amp bf16 "
                    "instead of fp16."
                )
            scaler.scale(loss / group_size).backward()
        if update:
            if settings.clip_grad:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), settings.clip_grad)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
        for name, value in zip(("loss", *losses), mean_losses, strict=True):
            sums[name] = sums.get(name, 0.0) + value
        images_seen += len(images)
        rate = images_seen * context.world_size / (time.perf_counter() - start)
        if context.is_main:
            learning_rate = optimizer.param_groups[0]["lr"]
            bar.set_postfix(loss=f"{sums['loss'] / (index + 1):.3f}", img_s=f"{rate:.1f}", lr=f"{learning_rate:.2e}")
    elapsed = time.perf_counter() - start
    steps = max(len(loader), 1)
    stats = {name: total / steps for name, total in sums.items()}
    stats["img_per_s"] = images_seen * context.world_size / elapsed if elapsed > 0 else math.nan
    stats["lr"] = optimizer.param_groups[0]["lr"]
    memory.stop()
    stats["peak_memory_mib"] = memory.peak_mib
    return stats
