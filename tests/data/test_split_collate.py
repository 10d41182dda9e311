"""Deterministic train/val split and the detection collate function."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from wnlb_zoo.data import SyntheticDarkScenes, collate_detection, train_val_split


def test_split_is_deterministic_disjoint_and_covering():
    dataset = list(range(103))
    train, val = train_val_split(dataset, 0.25, seed=5)
    assert len(val) == 26 and len(train) == 77
    assert set(train.indices).isdisjoint(val.indices)
    assert sorted(train.indices + val.indices) == dataset
    again_train, again_val = train_val_split(dataset, 0.25, seed=5)
    assert train.indices == again_train.indices and val.indices == again_val.indices
    _, other_val = train_val_split(dataset, 0.25, seed=6)
    assert other_val.indices != val.indices
    assert [train[i] for i in range(3)] == train.indices[:3]


@pytest.mark.parametrize("fraction", [0.0, 1.0, 0.001])
def test_split_refuses_empty_parts(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(list(range(10)), fraction, seed=0)


def test_collate_keeps_images_and_targets_as_lists():
    dataset = SyntheticDarkScenes(5, image_size=(32, 48), seed=0)
    images, targets = next(iter(DataLoader(dataset, batch_size=3, collate_fn=collate_detection)))
    assert isinstance(images, list) and isinstance(targets, list)
    assert len(images) == len(targets) == 3
    assert all(image.shape == (3, 32, 48) for image in images)
    assert [target["image_id"] for target in targets] == [0, 1, 2]
    assert torch.equal(images[1], dataset[1][0])
