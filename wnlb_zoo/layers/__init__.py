"""Layers of wnlb-zoo: the weighted non-local block and its attention for wide heads."""

from .blockwise import FUSED_HEAD_LIMIT, blockwise_attention
from .weighted_non_local import (
    NON_LOCAL_INITS,
    NON_LOCAL_MODES,
    NonLocalInit,
    NonLocalMode,
    WeightedNonLocalBlock,
)

__all__ = [
    "FUSED_HEAD_LIMIT",
    "NON_LOCAL_INITS",
    "NON_LOCAL_MODES",
    "NonLocalInit",
    "NonLocalMode",
    "WeightedNonLocalBlock",
    "blockwise_attention",
]
