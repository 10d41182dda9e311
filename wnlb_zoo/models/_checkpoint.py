"""Loading checkpoints into wNLB models: fill in the wNLB keys, stay strict about the others.

timm loads with ``strict=False`` whenever the classifier is dropped, and always under
``features_only=True``; a checkpoint that lacks a stock key would then load silently. The filter
here runs inside timm's loader and makes the result strict again:

* the wNLB keys are all-or-none: a base (ImageNet) checkpoint has none of them and gets the
  model's own initial values; a wNLB checkpoint must carry every one;
* every other key of the model must be in the checkpoint (the classifier excepted: timm drops or
  keeps it by ``num_classes``), and the checkpoint may hold no key the model lacks;
* one rule for every BatchNorm, stock or wNLB: ``num_batches_tracked`` may be absent (checkpoints
  from older torch or other tools lack it, and torch's own loading accepts that); it keeps the
  model's value.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..layers import WeightedNonLocalBlock

StateDict = dict[str, torch.Tensor]
FilterFn = Callable[[StateDict, nn.Module], StateDict]


class CheckpointMismatchError(RuntimeError):
    """A checkpoint does not hold the keys of the model it is loaded into."""


def wnlb_state_keys(model: nn.Module) -> set[str]:
    """State-dict keys that belong to the model's weighted non-local blocks."""
    prefixes = [name + "." for name, module in model.named_modules() if isinstance(module, WeightedNonLocalBlock)]
    return {key for key in model.state_dict() if key.startswith(tuple(prefixes))} if prefixes else set()


def classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    """Key prefixes of the classifier head(s) named by the model's pretrained_cfg."""
    classifier = (getattr(model, "pretrained_cfg", None) or {}).get("classifier") or ()
    names = (classifier,) if isinstance(classifier, str) else tuple(classifier)
    return tuple(name + "." for name in names)


def fill_wnlb_keys(state_dict: StateDict, model: nn.Module, base_filter_fn: FilterFn | None = None) -> StateDict:
    """Return ``state_dict`` with the wNLB keys filled in from ``model``; raise on any other mismatch.

    Args:
        state_dict: The checkpoint as loaded.
        model: The (classifier-form) wNLB model it is loaded into.
        base_filter_fn: The base architecture's own timm filter (e.g. ConvNeXt's FB-format remap),
            applied first.
    """
    if base_filter_fn is not None:
        state_dict = base_filter_fn(state_dict, model)
    state_dict = dict(state_dict)
    model_state = model.state_dict()
    wnlb_keys = wnlb_state_keys(model)
    head = classifier_prefixes(model)

    wnlb_required = {key for key in wnlb_keys if not _optional(key)}
    present = wnlb_required & state_dict.keys()
    if not present:
        state_dict.update({key: model_state[key] for key in wnlb_keys})
    elif present != wnlb_required:
        raise CheckpointMismatchError(
            "The checkpoint holds some wNLB weights but not all: missing "
            f"{_preview(wnlb_required - present)}. It was saved from a different wNLB configuration "
            "(wnlb_stages / wnlb_mode) or is truncated; build the model with the configuration it was "
            "trained with."
        )
    for key in model_state.keys() - state_dict.keys():
        if _optional(key):
            state_dict[key] = model_state[key]

    def required(key: str) -> bool:
        return not key.startswith(head) and not _optional(key)

    missing = {key for key in model_state if required(key)} - state_dict.keys()
    unexpected = {key for key in state_dict if required(key)} - model_state.keys()
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f"missing {len(missing)} key(s): {_preview(missing)}")
        if unexpected:
            problems.append(f"unexpected {len(unexpected)} key(s): {_preview(unexpected)}")
        raise CheckpointMismatchError(
            f"Checkpoint does not match {type(model).__name__}: {'; '.join(problems)}. "
            "Check that the weights were saved from the same architecture (and wnlb_* arguments), "
            "and that the file is complete."
        )
    return state_dict


def _optional(key: str) -> bool:
    """A BatchNorm's step counter: only momentum=None uses it, and torch loads checkpoints without it."""
    return key.endswith("num_batches_tracked")


def _preview(keys: set[str], limit: int = 5) -> str:
    ordered = sorted(keys)
    more = f" (+{len(ordered) - limit} more)" if len(ordered) > limit else ""
    return ", ".join(ordered[:limit]) + more
