"""Pretrained weights: locating, verifying, exporting and publishing them."""

from .resolve import MIRROR_ENV, PretrainedWeightsNotFound, mirror_path, resolve_pretrained_file

__all__ = ["MIRROR_ENV", "PretrainedWeightsNotFound", "mirror_path", "resolve_pretrained_file"]
