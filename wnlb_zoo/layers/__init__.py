"""Layers of wnlb-zoo: the weighted non-local block."""

from .weighted_non_local import (
    NON_LOCAL_INITS,
    NON_LOCAL_MODES,
    NonLocalInit,
    NonLocalMode,
    WeightedNonLocalBlock,
)

__all__ = ["NON_LOCAL_INITS", "NON_LOCAL_MODES", "NonLocalInit", "NonLocalMode", "WeightedNonLocalBlock"]
