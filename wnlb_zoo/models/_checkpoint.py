"""Loading checkpoints into wNLB models: fill in the wNLB keys, stay strict about the others.

timm loads with ``strict=False`` whenever the classifier is dropped, and always under
``features_only=True``; a checkpoint that lacks a stock key would then load silently. The filter
here runs inside timm's loader and makes the result strict again:

* the wNLB keys are all-or-none: a base (ImageNet) checkpoint has none of them and gets the
  model's own initial values; a wNLB checkpoint must carry every one;
* every other key is checked by the package's one strict key check
  (:mod:`wnlb_zoo.weights.state_dict_keys`), with the classifier exempt (timm drops or keeps it by
  ``num_classes``): one rule for every BatchNorm, stock or wNLB, whose ``num_batches_tracked`` may
  be absent and then keeps the model's value.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..layers import WeightedNonLocalBlock
from ..weights.state_dict_keys import fill_step_counters, is_step_counter, key_mismatch, preview_keys

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

    wnlb_required = {key for key in wnlb_keys if not is_step_counter(key)}
    present = wnlb_required & state_dict.keys()
    if not present:
        state_dict.update({key: model_state[key] for key in wnlb_keys})
    elif present != wnlb_required:
        raise CheckpointMismatchError(
            "The checkpoint holds some wNLB weights but not all: missing "
            f"{preview_keys(wnlb_required - present)}. It was saved from a different wNLB configuration "
            "(wnlb_stages / wnlb_mode) or is truncated; build the model with the configuration it was "
            "trained with."
        )
    state_dict = fill_step_counters(state_dict, model_state)
    mismatch = key_mismatch(state_dict.keys(), model_state.keys(), exempt_prefixes=classifier_prefixes(model))
    if mismatch:
        raise CheckpointMismatchError(
            f"Checkpoint does not match {type(model).__name__}: {mismatch}. "
            "Check that the weights were saved from the same architecture (and wnlb_* arguments), "
            "and that the file is complete."
        )
    return state_dict
