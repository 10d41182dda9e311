"""Append one weighted non-local block to the end of chosen backbone stages.

Appending to a stage's ``nn.Sequential`` (``layer3.append`` -> ``layer3.6.*``) keeps every stock
state-dict key unchanged, so ImageNet checkpoints of the base architecture load as they are, and
timm's ``features_only`` wrappers (which rebuild the model from its top-level children) keep the
blocks inside the stages they belong to.

:class:`WnlbStagesMixin` is the one mechanism every wNLB family uses: a family only says where its
four stage Sequentials are (``wnlb_stage_sequentials``).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from ..layers import NonLocalInit, NonLocalMode, WeightedNonLocalBlock
from ..layers.weighted_non_local import is_whole_number

#: Stages are numbered 1..4 in every family; stage k has stride 2 ** (k + 1) (1 -> 4, ..., 4 -> 32).
STAGE_NUMBERS = (1, 2, 3, 4)
#: Strides of the four stages: the feature pyramid a detector reads.
STAGE_STRIDES = tuple(2 ** (number + 1) for number in STAGE_NUMBERS)


def per_stage(value: Any, name: str) -> tuple[Any, ...]:
    """``value`` for each of the four stages: a single value is repeated, a sequence must have four."""
    if isinstance(value, numbers.Real):
        return (value,) * len(STAGE_NUMBERS)
    values = tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else ()
    if len(values) != len(STAGE_NUMBERS):
        raise ValueError(
            f"{name} takes one value for every stage or {len(STAGE_NUMBERS)}, one per stage "
            f"{STAGE_NUMBERS}; got {value!r}."
        )
    return values


def stage_numbers(stages: Iterable[int]) -> tuple[int, ...]:
    """The distinct stage numbers of ``wnlb_stages``, sorted; a clear error for anything else.

    A bare integer is refused rather than guessed at: ``3`` could mean stage 3 alone or, as timm's
    integer ``out_indices`` do, the last three stages.
    """
    if isinstance(stages, (numbers.Number, str)) or not isinstance(stages, Iterable):
        raise ValueError(
            f"wnlb_stages takes a sequence of stage numbers out of {STAGE_NUMBERS}, e.g. (3,) for stage 3 alone "
            f"or (2, 3, 4) for the last three; got {stages!r}."
        )
    stages = tuple(stages)
    unknown = [stage for stage in stages if not is_whole_number(stage) or stage not in STAGE_NUMBERS]
    if unknown:
        raise ValueError(
            f"wnlb_stages {stages} has unknown stage(s) {unknown}: stages are numbered "
            f"{STAGE_NUMBERS} (stride 4, 8, 16, 32)."
        )
    return tuple(sorted(set(stages)))


class WnlbStagesMixin:
    """Builds the base network, then appends a wNLB to the stages numbered in ``wnlb_stages``.

    Args:
        *args: Passed to the base network.
        wnlb_stages: 1-based stages that end in a wNLB (any subset of 1..4, may be empty).
        wnlb_mode: ``'embedded'``, ``'gaussian'``, ``'dot'`` or ``'concatenate'``.
        wnlb_inter_ratio: Embedding channels of each block as a fraction of its stage channels;
            one value for every stage or four, one per stage (stage 1 first).
        wnlb_kv_stride: Max-pool factor for keys/values (1 = exact attention, as in the paper); one
            value or four, e.g. ``(4, 2, 1, 1)`` attends over keys no finer than the stride-16 grid.
        wnlb_init: ``'default'`` (trainable attention path) or ``'reference'`` (authors' init).
        device: Parameter device (timm factory kwargs).
        dtype: Parameter dtype (timm factory kwargs).
        **kwargs: Passed to the base network.
    """

    def __init__(
        self,
        *args: Any,
        wnlb_stages: Sequence[int] = STAGE_NUMBERS,
        wnlb_mode: NonLocalMode = "embedded",
        wnlb_inter_ratio: float | Sequence[float] = 0.5,
        wnlb_kv_stride: int | Sequence[int] = 1,
        wnlb_init: NonLocalInit = "default",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **kwargs: Any,
    ) -> None:
        chosen = stage_numbers(wnlb_stages)
        inter_ratios = per_stage(wnlb_inter_ratio, "wnlb_inter_ratio")
        if not all(0 < ratio <= 4 for ratio in inter_ratios):
            raise ValueError(f"wnlb_inter_ratio must be in (0, 4], got {wnlb_inter_ratio}.")
        kv_strides = per_stage(wnlb_kv_stride, "wnlb_kv_stride")
        if not all(is_whole_number(stride) and stride >= 1 for stride in kv_strides):
            raise ValueError(
                f"wnlb_kv_stride takes whole numbers >= 1 (1 = exact attention, 2 or more max-pools the keys and "
                f"values), one for every stage or {len(STAGE_NUMBERS)}, one per stage; got {wnlb_kv_stride!r}."
            )
        super().__init__(*args, device=device, dtype=dtype, **kwargs)
        stages, channels = self.wnlb_stage_sequentials()
        for number in chosen:
            width = channels[number - 1]
            stages[number - 1].append(
                WeightedNonLocalBlock(
                    width,
                    inter_channels=max(round(width * inter_ratios[number - 1]), 1),
                    mode=wnlb_mode,
                    kv_stride=kv_strides[number - 1],
                    init=wnlb_init,
                    device=device,
                    dtype=dtype,
                )
            )

    def wnlb_stage_sequentials(self) -> tuple[list[nn.Sequential], list[int]]:
        """The four stage Sequentials (shallowest first) and their output channels."""
        raise NotImplementedError
