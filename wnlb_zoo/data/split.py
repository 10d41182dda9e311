"""Deterministic train/validation split of a dataset, and a fingerprint to check a split is rebuilt exactly."""

from __future__ import annotations

import hashlib
import json

import torch
from torch.utils.data import Dataset, Subset


def train_val_split(dataset: Dataset, val_fraction: float, seed: int = 0) -> tuple[Subset, Subset]:
    """Split ``dataset`` into disjoint train and validation subsets that together cover it.

    ``round(len(dataset) * val_fraction)`` items, drawn by a permutation seeded with ``seed``,
    go to validation. The split depends on ``(len(dataset), val_fraction, seed)`` only, so it is
    the same on every run and every process. Both subsets list their indices in ascending order.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    size = len(dataset)
    num_val = round(size * val_fraction)
    if num_val == 0 or num_val == size:
        raise ValueError(f"val_fraction {val_fraction} of {size} items leaves an empty train or validation set")
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed))
    val_indices = sorted(order[:num_val].tolist())
    train_indices = sorted(order[num_val:].tolist())
    return Subset(dataset, train_indices), Subset(dataset, val_indices)


def split_fingerprint(subset: Subset) -> str:
    """A sha256 of the items ``subset`` takes from its dataset: equal exactly when two subsets hold the same items.

    Items are named by image id where the dataset lists them (``ids`` of COCO-format data, so that
    an annotation file edited since keeps no fingerprint by chance) and by index otherwise.
    """
    ids = getattr(subset.dataset, "ids", None)
    items = [ids[index] for index in subset.indices] if ids is not None else [int(i) for i in subset.indices]
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()
