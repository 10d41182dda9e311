"""Learning-rate schedules: linear warm-up, then step decay or cosine, per optimiser step."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

SCHEDULES = ("cosine", "step", "constant")


def lr_multiplier(
    step: int,
    total_steps: int,
    warmup_steps: int,
    schedule: str,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
    warmup_factor: float = 0.001,
) -> float:
    """Factor applied to the base learning rate at optimiser step ``step``.

    Args:
        step: 0-based optimiser step.
        total_steps: Steps in the whole run (for cosine).
        warmup_steps: Linear ramp from ``warmup_factor`` to 1 over these steps.
        schedule: ``'cosine'`` (to 0 at ``total_steps``), ``'step'`` (x ``gamma`` at each milestone
            step) or ``'constant'``.
        milestones: Steps at which ``'step'`` decays.
        gamma: Decay factor of ``'step'``.
        warmup_factor: Starting factor of the warm-up.
    """
    warmup = 1.0
    if step < warmup_steps:
        alpha = step / warmup_steps
        warmup = warmup_factor * (1 - alpha) + alpha
    if schedule == "cosine":
        progress = min(step / max(total_steps, 1), 1.0)
        return warmup * 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "step":
        return warmup * gamma ** sum(step >= milestone for milestone in milestones)
    if schedule == "constant":
        return warmup
    raise ValueError(f"Unknown schedule {schedule!r}: use 'cosine', 'step' or 'constant'.")


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int,
    schedule: str,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR stepping once per optimiser step with :func:`lr_multiplier`."""
    lr_multiplier(0, total_steps, warmup_steps, schedule, milestones, gamma)  # validate the name now
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_multiplier(step, total_steps, warmup_steps, schedule, milestones, gamma)
    )
