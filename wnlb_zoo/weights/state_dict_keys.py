"""The one strict key check of a state dict against the model it is loaded into.

timm's loader runs with ``strict=False`` whenever it drops the classifier and under
``features_only=True``, and a weights export checks a state dict before it builds anything from
it; both need torch's strictness with a message short enough to read. The rule, for every caller:

* a BatchNorm's step counter (``num_batches_tracked``) may be absent: checkpoints from older torch
  or other tools lack it, torch's own loading accepts that, and it keeps the model's value
  (:func:`fill_step_counters`);
* every other key of the model must be in the state dict, and the state dict may hold no key the
  model lacks (:func:`key_mismatch`), except under prefixes the caller exempts (timm drops or keeps
  the classifier by ``num_classes``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import torch


def is_step_counter(key: str) -> bool:
    """A BatchNorm's step counter: only ``momentum=None`` uses it, and torch loads checkpoints without it."""
    return key.endswith("num_batches_tracked")


def fill_step_counters(
    state_dict: Mapping[str, torch.Tensor], model_state: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """``state_dict`` with the model's step counters added where it has none of its own."""
    filled = dict(state_dict)
    for key in model_state.keys() - filled.keys():
        if is_step_counter(key):
            filled[key] = model_state[key]
    return filled


def key_mismatch(
    state_keys: Collection[str], model_keys: Collection[str], exempt_prefixes: tuple[str, ...] = ()
) -> str:
    """What differs between the keys of a state dict and of its model ("" when none), for an error message.

    Keys starting with one of ``exempt_prefixes`` are not compared; step counters are compared
    like any key, so fill them in first (:func:`fill_step_counters`).
    """
    state_keys = {key for key in state_keys if not key.startswith(exempt_prefixes)}
    model_keys = {key for key in model_keys if not key.startswith(exempt_prefixes)}
    missing, unexpected = model_keys - state_keys, state_keys - model_keys
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} key(s): {preview_keys(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} key(s): {preview_keys(unexpected)}")
    return "; ".join(problems)


def preview_keys(keys: Collection[str], limit: int = 5) -> str:
    """The first ``limit`` of ``keys`` in sorted order, and how many more there are."""
    ordered = sorted(keys)
    more = f" (+{len(ordered) - limit} more)" if len(ordered) > limit else ""
    return ", ".join(ordered[:limit]) + more
