"""SyntheticDarkScenes: deterministic, consistent targets, occlusion, darkness."""

from __future__ import annotations

import pytest
import torch

from wnlb_zoo.data import SHAPES, SyntheticDarkScenes, masks_to_boxes
from wnlb_zoo.data.synthetic import _SceneObject, _visible_objects, render_scene


def _assert_same_item(first, second):
    assert torch.equal(first[0], second[0])
    for key in ("boxes", "labels", "masks", "area", "iscrowd"):
        assert torch.equal(first[1][key], second[1][key])
    assert first[1]["image_id"] == second[1]["image_id"]


def test_items_are_deterministic_and_random_access():
    dataset = SyntheticDarkScenes(6, image_size=(64, 80), seed=3)
    rebuilt = SyntheticDarkScenes(6, image_size=(64, 80), seed=3)
    _assert_same_item(dataset[4], rebuilt[4])
    _assert_same_item(dataset[4], dataset[4])
    assert not torch.equal(dataset[4][0], dataset[5][0])
    assert not torch.equal(dataset[4][0], SyntheticDarkScenes(6, image_size=(64, 80), seed=4)[4][0])


@pytest.mark.parametrize("num_classes", [1, 3, len(SHAPES)])
def test_targets_are_consistent(num_classes):
    dataset = SyntheticDarkScenes(12, image_size=(96, 96), num_classes=num_classes, seed=1, max_objects=8)
    assert dataset.class_names == list(SHAPES[:num_classes])
    instances = 0
    for index in range(len(dataset)):
        image, target = dataset[index]
        assert image.shape == (3, 96, 96) and image.dtype == torch.float32
        assert 0.0 <= image.min() and image.max() <= 1.0
        masks = target["masks"]
        assert masks.dtype == torch.uint8 and masks.shape[1:] == (96, 96)
        assert target["image_id"] == index
        assert masks.flatten(1).sum(dim=1).min() >= 16  # non-empty, at least min_visible_pixels
        assert torch.equal(target["boxes"], masks_to_boxes(masks))
        assert torch.equal(target["area"], masks.flatten(1).sum(dim=1).float())
        labels = target["labels"]
        assert labels.dtype == torch.int64 and ((labels >= 1) & (labels <= num_classes)).all()
        assert masks.sum(dim=0).max() <= 1  # visible parts: no two masks share a pixel
        assert target["iscrowd"].eq(0).all()
        instances += len(labels)
    assert instances >= len(dataset)  # at least one object per scene


def test_darkening_keeps_the_scene_and_its_targets():
    dark = SyntheticDarkScenes(3, image_size=(64, 64), seed=7)
    clean = SyntheticDarkScenes(3, image_size=(64, 64), seed=7, darken=False)
    for index in range(3):
        dark_image, dark_target = dark[index]
        clean_image, clean_target = clean[index]
        assert dark_image.mean() < 0.6 * clean_image.mean()
        assert torch.equal(dark_target["masks"], clean_target["masks"])
        assert torch.equal(dark_target["labels"], clean_target["labels"])


def test_mostly_occluded_objects_are_removed():
    # Hand-made scene: a square almost covered by a later one, and a free-standing one.
    def square(top, left, size):
        return _SceneObject(1, top, left, torch.ones(size, size, dtype=torch.bool), torch.zeros(3, size, size))

    objects = [square(0, 0, 10), square(1, 1, 10), square(20, 20, 5)]
    assert _visible_objects(objects, 32, 32, min_fraction=0.4, min_pixels=16) == [1, 2]
    assert _visible_objects(objects, 32, 32, min_fraction=0.4, min_pixels=30) == [1]
    assert _visible_objects(objects, 32, 32, min_fraction=0.0, min_pixels=1) == [0, 1, 2]


def test_visibility_threshold_removes_objects_in_crowded_scenes():
    kept = {}
    for fraction in (0.0, 0.9):
        kept[fraction] = [
            len(render_scene((48, 48), 3, 12, torch.Generator().manual_seed(seed), fraction, 1)[2])
            for seed in range(10)
        ]
    assert all(strict <= loose for strict, loose in zip(kept[0.9], kept[0.0], strict=True))
    assert sum(kept[0.9]) < sum(kept[0.0])


def test_invalid_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        SyntheticDarkScenes(2, num_classes=len(SHAPES) + 1)
    with pytest.raises(IndexError):
        SyntheticDarkScenes(2)[2]
