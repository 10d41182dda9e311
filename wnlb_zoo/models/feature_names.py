"""Module names inside timm's ``features_only`` wrappers, and back.

A wrapper built with ``flatten_sequential`` (ConvNeXt's) holds the children of a top-level
``nn.Sequential`` directly, joined by an underscore: the module feature info calls ``stages.0``
is the wrapper's child ``stages_0``, and its parameter ``stages.0.blocks.1.gamma`` is the
wrapper's ``stages_0.blocks.1.gamma``. Unnested names (ResNet's ``layer1``) are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable


def flattened_name(name: str) -> str:
    """The name a flattening ``features_only`` wrapper gives the module or parameter ``name``."""
    return name.replace(".", "_", 1)


def unflattened_names(wrapper_names: Iterable[str], model_names: Iterable[str]) -> dict[str, str | None]:
    """``{wrapper name: the model's name for it}`` (None where the model has none): keys as they are, or flattened."""
    model_names = set(model_names)
    by_flattened = {flattened_name(name): name for name in model_names}
    return {name: name if name in model_names else by_flattened.get(name) for name in wrapper_names}
