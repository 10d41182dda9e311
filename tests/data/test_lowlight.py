"""Low-light synthesis: exact inverse without darkening, darkness, the shot/read noise model, seeding."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from wnlb_zoo.data import LowLightParams, RandomLowLight, synthesize_low_light
from wnlb_zoo.data.lowlight import add_shot_read_noise, reprocess, sample_low_light, unprocess

IDENTITY = LowLightParams(darken=False, noise=False, quantise=False)


def _images(batch: int = 4, size: int = 32, low: float = 0.0, high: float = 1.0, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(batch, 3, size, size, generator=generator)


@pytest.mark.parametrize("random_ccm", [True, False])
def test_unprocess_then_reprocess_is_the_identity(random_ccm):
    images = _images()
    params = replace(IDENTITY, preserve_highlights=False, random_ccm=random_ccm)
    output = synthesize_low_light(images, params, torch.Generator().manual_seed(1))
    assert (output - images).abs().max() < 1e-3


def test_identity_with_highlight_preservation_below_the_highlights():
    # Highlight-preserving inverse gains differ from the plain ones only above a linear gray of 0.9.
    images = _images(low=0.0, high=0.8)
    output = synthesize_low_light(images, IDENTITY, torch.Generator().manual_seed(1))
    assert (output - images).abs().max() < 1e-3


def test_highlights_do_not_clip_in_raw():
    white = torch.ones(2, 3, 8, 8)
    sample = sample_low_light(2, LowLightParams(), torch.Generator().manual_seed(0))
    protected = unprocess(white, sample, preserve_highlights=True)
    plain = unprocess(white, sample, preserve_highlights=False)
    assert protected.amax() <= 1.0
    assert (protected >= plain).all() and (protected > plain + 0.1).any()


def test_brightness_falls_with_the_dark_ratio():
    images = _images(low=0.2, high=0.9)
    means = []
    for ratio in (1.0, 10.0, 30.0, 100.0):
        params = LowLightParams(dark_ratio=(ratio, ratio))
        means.append(synthesize_low_light(images, params, torch.Generator().manual_seed(3)).mean().item())
    assert means == sorted(means, reverse=True)
    assert means[1] < 0.5 * images.mean().item() and means[3] < 0.1 * images.mean().item()


def test_amplify_restores_the_brightness():
    images = _images(low=0.2, high=0.9)
    params = LowLightParams(dark_ratio=(50.0, 50.0), amplify=True)
    output = synthesize_low_light(images, params, torch.Generator().manual_seed(3))
    assert abs(output.mean().item() - images.mean().item()) < 0.1 * images.mean().item()
    assert (output - images).abs().mean() > 0.01  # but noisy


def test_noise_variance_matches_the_shot_read_model_on_flat_patches():
    levels = torch.tensor([0.1, 0.3, 0.6, 0.9])
    images = levels[:, None, None, None].expand(4, 3, 128, 128).contiguous()
    params = LowLightParams(dark_ratio=(20.0, 20.0), quantise=False, shot_noise=(1e-3, 0.012))
    _, trace = synthesize_low_light(images, params, torch.Generator().manual_seed(5), return_trace=True)
    residual = trace.noisy_raw - trace.dark_raw
    clean = trace.dark_raw.mean(dim=(2, 3))  # (B, 3): each patch is flat
    assert torch.allclose(trace.dark_raw.amin(dim=(2, 3)), trace.dark_raw.amax(dim=(2, 3)))
    expected = clean * trace.sample.shot_noise[:, None] + trace.sample.read_noise[:, None]
    measured = residual.var(dim=(2, 3))
    # 16k samples per patch: the sample variance is within a few percent of the truth.
    torch.testing.assert_close(measured, expected, rtol=0.06, atol=0.0)
    assert residual.mean(dim=(2, 3)).abs().max() < 3 * (expected / 128**2).sqrt().max()


def test_noise_uses_the_standard_deviation_not_the_variance():
    raw = torch.full((1, 3, 200, 200), 0.04)
    shot, read = torch.tensor([0.01]), torch.tensor([1e-4])
    noisy = add_shot_read_noise(raw, shot, read, torch.Generator().manual_seed(0))
    torch.testing.assert_close((noisy - raw).var(), torch.tensor(0.04 * 0.01 + 1e-4), rtol=0.05, atol=0.0)


def test_quantisation_gives_bit_depth_levels():
    images = _images(batch=1)
    params = LowLightParams(dark_ratio=(10.0, 10.0), noise=False, bit_depth=4)
    _, trace = synthesize_low_light(images, params, torch.Generator().manual_seed(0), return_trace=True)
    codes = trace.noisy_raw * 15
    assert torch.allclose(codes, codes.round(), atol=1e-4)
    assert codes.unique().numel() <= 16


def test_same_seed_same_output_different_seed_different_output():
    images = _images()
    first = synthesize_low_light(images, generator=torch.Generator().manual_seed(11))
    again = synthesize_low_light(images, generator=torch.Generator().manual_seed(11))
    other = synthesize_low_light(images, generator=torch.Generator().manual_seed(12))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_parameters_are_drawn_per_image_within_their_ranges():
    params = LowLightParams()
    sample = sample_low_light(64, params, torch.Generator().manual_seed(0))
    for name in ("dark_ratio", "red_gain", "blue_gain", "shot_noise"):
        values = getattr(sample, name)
        low, high = getattr(params, name)
        assert values.unique().numel() == 64
        assert low <= values.min() and values.max() <= high
    white = sample.rgb_to_camera.sum(dim=2)
    torch.testing.assert_close(white, torch.ones_like(white))  # white stays white
    log_read = sample.read_noise.log()
    residual = log_read - (2.18 * sample.shot_noise.log() + 1.20)
    assert 0.15 < residual.std() < 0.4


def test_reprocess_inverts_unprocess_directly():
    images = _images(high=0.8)
    sample = sample_low_light(images.shape[0], LowLightParams(), torch.Generator().manual_seed(2))
    assert (reprocess(unprocess(images, sample), sample) - images).abs().max() < 1e-3


def test_shapes_and_dtypes():
    image = _images(batch=1)[0]
    output = synthesize_low_light(image, generator=torch.Generator().manual_seed(0))
    assert output.shape == image.shape and output.dtype == torch.float32
    assert 0.0 <= output.min() and output.max() <= 1.0
    half = synthesize_low_light(image.half(), generator=torch.Generator().manual_seed(0))
    assert half.dtype == torch.float16
    with pytest.raises(ValueError, match="float images"):
        synthesize_low_light((image * 255).to(torch.uint8))


@pytest.mark.parametrize(
    "kwargs",
    [{"dark_ratio": (0.5, 2.0)}, {"red_gain": (2.0, 1.0)}, {"shot_noise": (0.0, 0.01)}, {"bit_depth": 0}],
)
def test_invalid_parameters_are_refused(kwargs):
    with pytest.raises(ValueError, match="LowLightParams"):
        LowLightParams(**kwargs)


def test_random_low_light_leaves_masks_and_boxes_untouched():
    image = _images(batch=1)[0]
    masks = torch.zeros(2, 32, 32, dtype=torch.uint8)
    masks[0, 2:10, 3:12] = 1
    masks[1, 20:30, 5:9] = 1
    target = {
        "boxes": torch.tensor([[3.0, 2.0, 12.0, 10.0], [5.0, 20.0, 9.0, 30.0]]),
        "labels": torch.tensor([1, 2]),
        "masks": masks,
        "image_id": 4,
        "area": torch.tensor([72.0, 40.0]),
        "iscrowd": torch.tensor([0, 0]),
    }
    snapshot = {key: value.clone() if torch.is_tensor(value) else value for key, value in target.items()}
    transform = RandomLowLight(generator=torch.Generator().manual_seed(0))
    dark, out = transform(image, target)
    assert dark.mean() < image.mean()
    assert out.keys() == snapshot.keys()
    for key, value in snapshot.items():
        assert torch.equal(out[key], value) if torch.is_tensor(value) else out[key] == value
