"""Paired transforms keep masks, boxes and areas consistent; nearest resizing invents no values."""

from __future__ import annotations

import pytest
import torch

from wnlb_zoo.data import (
    Compose,
    RandomHorizontalFlip,
    RandomLowLight,
    RandomPhotometric,
    Resize,
    SyntheticDarkScenes,
    empty_target,
    masks_to_boxes,
)


@pytest.fixture(scope="module")
def items():
    dataset = SyntheticDarkScenes(4, image_size=(60, 90), seed=2, darken=False, max_objects=5)
    return [dataset[index] for index in range(len(dataset))]


def test_flip_mirrors_image_masks_and_boxes_exactly(items):
    flip = RandomHorizontalFlip(p=1.0)
    for image, target in items:
        flipped, out = flip(image, target)
        assert torch.equal(flipped, image.flip(-1))
        assert torch.equal(out["masks"], target["masks"].flip(-1))
        assert torch.equal(out["boxes"], masks_to_boxes(out["masks"]))
        assert torch.equal(out["labels"], target["labels"])


def test_flip_probability_and_seed(items):
    image, target = items[0]
    assert RandomHorizontalFlip(p=0.0)(image, target)[0] is image
    flips = [
        not torch.equal(RandomHorizontalFlip(0.5, torch.Generator().manual_seed(seed))(image, target)[0], image)
        for seed in range(40)
    ]
    assert 5 < sum(flips) < 35
    again = [
        not torch.equal(RandomHorizontalFlip(0.5, torch.Generator().manual_seed(seed))(image, target)[0], image)
        for seed in range(40)
    ]
    assert flips == again


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize(("min_size", "max_size"), [(120, 1000), (30, 1000), (100, 120)])
def test_resize_keeps_boxes_on_the_masks(items, interpolation, min_size, max_size):
    resize = Resize(min_size, max_size, interpolation=interpolation)
    for image, target in items:
        resized, out = resize(image, target)
        height, width = resize.output_size(*image.shape[-2:])
        assert resized.shape == (3, height, width)
        assert min(height, width) == min_size or max(height, width) == max_size
        assert out["masks"].shape == (len(target["labels"]), height, width)
        assert out["masks"].dtype == torch.uint8 and set(out["masks"].unique().tolist()) <= {0, 1}
        kept = out["masks"].flatten(1).sum(dim=1) > 0  # a tiny object may vanish when shrinking
        assert (masks_to_boxes(out["masks"])[kept] - out["boxes"][kept]).abs().max() <= 1.0
        scale = (width / image.shape[-1]) * (height / image.shape[-2])
        torch.testing.assert_close(out["area"], target["area"] * scale)


def test_nearest_resize_invents_no_pixel_values(items):
    image, target = items[1]
    for size in (37, 150):
        resized, _ = Resize(size, 1000, interpolation="nearest")(image, target)
        assert set(resized.unique().tolist()) <= set(image.unique().tolist())
    blurred, _ = Resize(150, 1000, interpolation="bilinear")(image, target)
    assert not set(blurred.unique().tolist()) <= set(image.unique().tolist())


def test_resize_of_an_empty_target():
    image = torch.rand(3, 20, 30)
    resized, out = Resize(40, 100)(image, empty_target(0, 20, 30))
    assert resized.shape == (3, 40, 60)
    assert out["boxes"].shape == (0, 4) and out["masks"].shape == (0, 40, 60)


def test_multi_scale_resize_draws_a_size(items):
    image, target = items[0]
    sizes = {
        Resize((30, 45, 60), 1000, generator=torch.Generator().manual_seed(seed))(image, target)[0].shape[-2]
        for seed in range(30)
    }
    assert sizes == {30, 45, 60}


def test_photometric_changes_the_image_only(items):
    image, target = items[2]
    jittered, out = RandomPhotometric(0.4, 0.4, 0.4, p=1.0, generator=torch.Generator().manual_seed(0))(image, target)
    assert out is target
    assert not torch.equal(jittered, image) and jittered.shape == image.shape
    assert 0.0 <= jittered.min() and jittered.max() <= 1.0
    same, _ = RandomPhotometric(0.4, 0.4, 0.4, p=1.0, generator=torch.Generator().manual_seed(0))(image, target)
    assert torch.equal(jittered, same)
    with pytest.raises(ValueError, match="brightness"):
        RandomPhotometric(brightness=1.5)


def test_compose_chains_in_order(items):
    image, target = items[3]
    pipeline = Compose(
        [
            Resize(120, 1000, interpolation="nearest"),
            RandomHorizontalFlip(p=1.0),
            RandomLowLight(generator=torch.Generator().manual_seed(0)),
        ]
    )
    dark, out = pipeline(image, target)
    assert dark.shape == (3, 120, 180)
    assert dark.mean() < image.mean()
    kept = out["masks"].flatten(1).sum(dim=1) > 0
    assert (masks_to_boxes(out["masks"])[kept] - out["boxes"][kept]).abs().max() <= 1.0
