"""Append one weighted non-local block to the end of chosen backbone stages.

Appending to a stage's ``nn.Sequential`` (``layer3.append`` -> ``layer3.6.*``) keeps every stock
state-dict key unchanged, so ImageNet checkpoints of the base architecture load as they are, and
timm's ``features_only`` wrappers (which rebuild the model from its top-level children) keep the
blocks inside the stages they belong to.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..layers import NonLocalInit, NonLocalMode, WeightedNonLocalBlock

#: Stages are numbered 1..4 in every family; stage k has stride 2 ** (k + 1) (1 -> 4, ..., 4 -> 32).
STAGE_NUMBERS = (1, 2, 3, 4)


def append_wnlb_blocks(
    stages: Sequence[nn.Sequential],
    stage_channels: Sequence[int],
    wnlb_stages: Sequence[int] = STAGE_NUMBERS,
    wnlb_mode: NonLocalMode = "embedded",
    wnlb_inter_ratio: float = 0.5,
    wnlb_kv_stride: int = 1,
    wnlb_init: NonLocalInit = "default",
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> None:
    """Append a :class:`WeightedNonLocalBlock` to each stage numbered in ``wnlb_stages``.

    Args:
        stages: The four stage Sequentials, shallowest first.
        stage_channels: Output channels of each stage.
        wnlb_stages: 1-based stage numbers that get a block (any subset of 1..4, may be empty).
        wnlb_mode: Pairwise function of every block.
        wnlb_inter_ratio: Embedding channels as a fraction of the stage channels (0.5 = C / 2).
        wnlb_kv_stride: Max-pool factor of keys/values (1 = exact, as in the paper).
        wnlb_init: ``'default'`` or ``'reference'`` (see :class:`WeightedNonLocalBlock`).
        device: Parameter device (timm factory kwargs).
        dtype: Parameter dtype (timm factory kwargs).
    """
    unknown = sorted(set(wnlb_stages) - set(STAGE_NUMBERS))
    if unknown:
        raise ValueError(
            f"wnlb_stages {tuple(wnlb_stages)} has unknown stage(s) {unknown}: stages are numbered "
            f"{STAGE_NUMBERS} (stride 4, 8, 16, 32)."
        )
    if not 0 < wnlb_inter_ratio <= 4:
        raise ValueError(f"wnlb_inter_ratio must be in (0, 4], got {wnlb_inter_ratio}.")
    for number in sorted(set(wnlb_stages)):
        channels = stage_channels[number - 1]
        stages[number - 1].append(
            WeightedNonLocalBlock(
                channels,
                inter_channels=max(round(channels * wnlb_inter_ratio), 1),
                mode=wnlb_mode,
                kv_stride=wnlb_kv_stride,
                init=wnlb_init,
                device=device,
                dtype=dtype,
            )
        )
