"""Physics-based low-light synthesis: turn a normal-light sRGB image into a dark, noisy one.

The pipeline of Brooks et al. 2019, "Unprocessing Images for Learned Raw Denoising" (CVPR), with
the exposure cut of LIS (Chen et al., IJCV 2023), without mosaicing since we stay in RGB:

1. **unprocess** sRGB -> linear camera raw: inverse tone map ``0.5 - sin(asin(1 - 2x) / 3)``,
   gamma 2.2 expansion (``max(x, 1e-8) ** 2.2``), inverse colour correction (sRGB -> camera),
   inverse white-balance and brightness gains, clamp to [0, 1];
2. **darken**: divide by a dark ratio (the exposure is cut by that factor);
3. **noise**: heteroscedastic Gaussian approximation of shot + read noise,
   ``raw + N(0, 1) * sqrt(raw * shot + read)`` (the *standard deviation* is the square root of
   the variance ``raw * shot + read``);
4. **quantise** as an ADC of ``bit_depth`` bits would (clamp to [0, 1], round to 2**bits - 1 levels);
5. optionally **amplify**: multiply back by the dark ratio (the brightness of the original,
   with the noise and quantisation of the short exposure, as a raw pipeline that scales the
   signal by the exposure ratio would see it);
6. **reprocess** with the same parameters: gains, camera -> sRGB, gamma compression, tone map,
   clamp to [0, 1].

``amplify`` is off by default, so the output is dark, like a camera's own processing of the short
exposure (LIS's ``RGB-dark`` JPEGs): its mean brightness falls as the dark ratio grows. Turn it on
for the ratio-amplified images of the LIS/SID-style raw pipelines (original brightness, noisy).

Random parameters, drawn per image (ranges in :class:`LowLightParams`, defaults from the papers):

- colour correction: a random convex combination of the four XYZ -> camera matrices Brooks et al.
  use (Adobe DNG colour matrices of four cameras), times the sRGB (D65) -> XYZ matrix of
  IEC 61966-2-1, rows normalised to sum to one (white stays white); with ``random_ccm=False``
  their equal-weight mean, a fixed matrix;
- brightness gain ``1 / N(0.8, 0.1)`` (the normal draw is floored at 0.05), red gain U(1.9, 2.4),
  blue gain U(1.5, 1.9); the inverse gains keep highlights from clipping as in Brooks et al.
  (``preserve_highlights``): above a linear gray of 0.9 they fade to 1;
- dark ratio U(10, 100);
- shot noise ``log U(1e-4, 0.012)``; read noise ``log read = 2.18 log shot + 1.20 + N(0, 0.26)``.

Everything is torch, batched over (B, 3, H, W), on the images' device; randomness comes from the
``generator`` given (its device may differ from the images': draws are moved) or torch's global
generator. Masks and boxes are not involved: use :class:`~wnlb_zoo.data.transforms.RandomLowLight`
on dataset items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# XYZ -> camera matrices of four cameras, as used by Brooks et al. 2019 (Adobe DNG ColorMatrix data).
XYZ_TO_CAMERA = (
    ((1.0234, -0.2969, -0.2266), (-0.5625, 1.6328, -0.0469), (-0.0703, 0.2188, 0.6406)),
    ((0.4913, -0.0541, -0.0202), (-0.6130, 1.3513, 0.2906), (-0.1564, 0.2151, 0.7183)),
    ((0.8380, -0.2630, -0.0639), (-0.2887, 1.0725, 0.2496), (-0.0627, 0.1427, 0.5438)),
    ((0.6596, -0.2079, -0.0562), (-0.4782, 1.3016, 0.1933), (-0.0970, 0.1581, 0.5181)),
)
# Linear sRGB (D65) -> CIE XYZ, IEC 61966-2-1.
SRGB_TO_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
_GAMMA = 2.2
_EPSILON = 1e-8
_HIGHLIGHT_INFLECTION = 0.9


@dataclass(frozen=True)
class LowLightParams:
    """Every range and switch of the synthesis. Ranges are ``(low, high)``; equal bounds fix a value.

    Attributes:
        dark_ratio: exposure cut, uniform.
        brightness_gain_mean, brightness_gain_std: the brightness gain is ``1 / N(mean, std)``.
        red_gain, blue_gain: white-balance gains, uniform.
        shot_noise: shot-noise variance factor, log-uniform.
        read_noise_slope, read_noise_intercept, read_noise_std: ``log read = slope * log shot +
            intercept + N(0, std)``.
        bit_depth: ADC bits of the quantisation (12 is common for raw sensors; 8 gives the banding
            of an 8-bit capture; up to 16).
        random_ccm: random convex mix of the camera matrices per image, else their fixed mean.
        preserve_highlights: highlight-preserving inverse gains (Brooks et al.).
        darken: divide by the dark ratio (off: ratio 1).
        noise: add shot and read noise.
        quantise: quantise to ``bit_depth`` bits.
        amplify: multiply back by the dark ratio before reprocessing (see the module doc).
    """

    dark_ratio: tuple[float, float] = (10.0, 100.0)
    brightness_gain_mean: float = 0.8
    brightness_gain_std: float = 0.1
    red_gain: tuple[float, float] = (1.9, 2.4)
    blue_gain: tuple[float, float] = (1.5, 1.9)
    shot_noise: tuple[float, float] = (1e-4, 0.012)
    read_noise_slope: float = 2.18
    read_noise_intercept: float = 1.20
    read_noise_std: float = 0.26
    bit_depth: int = 12
    random_ccm: bool = True
    preserve_highlights: bool = True
    darken: bool = True
    noise: bool = True
    quantise: bool = True
    amplify: bool = False

    def __post_init__(self) -> None:
        for name, minimum in (("dark_ratio", 1.0), ("red_gain", 0.0), ("blue_gain", 0.0), ("shot_noise", 0.0)):
            low, high = getattr(self, name)
            if not (low <= high and (low > minimum or (name == "dark_ratio" and low == minimum))):
                raise ValueError(f"LowLightParams.{name} must be (low, high), {minimum} < low <= high, got {low, high}")
        if self.brightness_gain_mean <= 0 or self.brightness_gain_std < 0 or self.read_noise_std < 0:
            raise ValueError("LowLightParams: brightness_gain_mean must be > 0 and the standard deviations >= 0")
        if not 1 <= self.bit_depth <= 16:
            raise ValueError(f"LowLightParams.bit_depth must be in 1..16, got {self.bit_depth}")


DEFAULT_LOW_LIGHT = LowLightParams()
"""The published ranges (Brooks et al. 2019; LIS dark ratio), dark output."""


@dataclass(frozen=True)
class LowLightSample:
    """The parameters drawn for a batch: one value (or matrix) per image, on the images' device."""

    rgb_to_camera: torch.Tensor  # (B, 3, 3), linear sRGB -> camera RGB
    brightness_gain: torch.Tensor  # (B,)
    red_gain: torch.Tensor  # (B,)
    blue_gain: torch.Tensor  # (B,)
    dark_ratio: torch.Tensor  # (B,)
    shot_noise: torch.Tensor  # (B,), variance per unit of signal
    read_noise: torch.Tensor  # (B,), variance

    @property
    def gains(self) -> torch.Tensor:
        """(B, 3) gains a camera applies to raw R, G, B: white balance times brightness."""
        ones = torch.ones_like(self.red_gain)
        return torch.stack([self.red_gain, ones, self.blue_gain], dim=1) * self.brightness_gain[:, None]


@dataclass(frozen=True)
class LowLightTrace:
    """What :func:`synthesize_low_light` did to a batch, for tests and inspection."""

    sample: LowLightSample
    dark_raw: torch.Tensor  # clean raw after the exposure cut, before noise
    noisy_raw: torch.Tensor  # after noise and quantisation, before amplification


def sample_low_light(
    batch_size: int,
    params: LowLightParams = DEFAULT_LOW_LIGHT,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> LowLightSample:
    """Draw the per-image parameters of a batch."""
    draw_device = generator.device if generator is not None else torch.device("cpu")

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(batch_size, generator=generator, device=draw_device)

    def normal(mean: float, std: float) -> torch.Tensor:
        return mean + std * torch.randn(batch_size, generator=generator, device=draw_device)

    matrices = torch.tensor(XYZ_TO_CAMERA, device=draw_device)
    if params.random_ccm:
        weights = torch.rand(batch_size, len(XYZ_TO_CAMERA), generator=generator, device=draw_device)
    else:
        weights = torch.ones(batch_size, len(XYZ_TO_CAMERA), device=draw_device)
    xyz_to_camera = torch.einsum("bk,kij->bij", weights / weights.sum(dim=1, keepdim=True), matrices)
    rgb_to_camera = xyz_to_camera @ torch.tensor(SRGB_TO_XYZ, device=draw_device)
    rgb_to_camera = rgb_to_camera / rgb_to_camera.sum(dim=2, keepdim=True)

    brightness_gain = 1.0 / normal(params.brightness_gain_mean, params.brightness_gain_std).clamp(min=0.05)
    red_gain = uniform(*params.red_gain)
    blue_gain = uniform(*params.blue_gain)
    dark_ratio = uniform(*params.dark_ratio) if params.darken else torch.ones(batch_size, device=draw_device)
    log_shot = uniform(math.log(params.shot_noise[0]), math.log(params.shot_noise[1]))
    log_read = params.read_noise_slope * log_shot + params.read_noise_intercept + normal(0.0, params.read_noise_std)
    device = torch.device(device) if device is not None else draw_device
    return LowLightSample(
        rgb_to_camera=rgb_to_camera.to(device),
        brightness_gain=brightness_gain.to(device),
        red_gain=red_gain.to(device),
        blue_gain=blue_gain.to(device),
        dark_ratio=dark_ratio.to(device),
        shot_noise=log_shot.exp().to(device),
        read_noise=log_read.exp().to(device),
    )


def unprocess(images: torch.Tensor, sample: LowLightSample, preserve_highlights: bool = True) -> torch.Tensor:
    """sRGB (B, 3, H, W) in [0, 1] -> linear camera raw in [0, 1]."""
    # In-place steps on fresh tensors: on CPU, allocating a full-size temporary costs as much as the arithmetic.
    x = images.clamp(0.0, 1.0)
    x.mul_(-2.0).add_(1.0).asin_().div_(3.0).sin_().neg_().add_(0.5)  # 0.5 - sin(asin(1 - 2x) / 3)
    x.clamp_(min=_EPSILON).log_().mul_(_GAMMA).exp_()  # x ** 2.2
    x = torch.einsum("bij,bjhw->bihw", sample.rgb_to_camera, x)
    inverse_gains = (1.0 / sample.gains)[:, :, None, None]
    if preserve_highlights:
        # Brooks et al.'s max(w + (1 - w) g, g) with w = ((gray - 0.9) / 0.1)^2 above a gray of 0.9,
        # written as g + w * max(1 - g, 0): gains below one fade to one in the highlights.
        weight = x.mean(dim=1, keepdim=True).sub_(_HIGHLIGHT_INFLECTION).clamp_(min=0.0)
        weight = weight.div_(1.0 - _HIGHLIGHT_INFLECTION).square_()
        inverse_gains = inverse_gains + weight * (1.0 - inverse_gains).clamp(min=0.0)
    return x.mul_(inverse_gains).clamp_(0.0, 1.0)


def reprocess(raw: torch.Tensor, sample: LowLightSample) -> torch.Tensor:
    """Linear camera raw (B, 3, H, W) -> sRGB in [0, 1], with the parameters that unprocessed it."""
    x = (raw * sample.gains[:, :, None, None]).clamp_(0.0, 1.0)
    x = torch.einsum("bij,bjhw->bihw", torch.linalg.inv(sample.rgb_to_camera), x)
    x.clamp_(min=_EPSILON).log_().mul_(1.0 / _GAMMA).exp_().clamp_(0.0, 1.0)  # x ** (1 / 2.2)
    return (3.0 - 2.0 * x).mul_(x).mul_(x)  # smoothstep tone curve 3x^2 - 2x^3


def add_shot_read_noise(
    raw: torch.Tensor,
    shot_noise: torch.Tensor,
    read_noise: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``raw + N(0, 1) * sqrt(raw * shot + read)`` with per-image (B,) shot and read variances."""
    variance = raw.clamp(min=0.0).mul_(shot_noise[:, None, None, None]).add_(read_noise[:, None, None, None])
    draw_device = generator.device if generator is not None else raw.device
    noise = torch.randn(raw.shape, generator=generator, device=draw_device, dtype=raw.dtype).to(raw.device)
    return noise.mul_(variance.sqrt_()).add_(raw)


def quantise(raw: torch.Tensor, bit_depth: int) -> torch.Tensor:
    """Clamp to [0, 1] and round to ``2**bit_depth - 1`` levels, as an ADC does."""
    levels = 2**bit_depth - 1
    return raw.clamp(0.0, 1.0).mul_(levels).round_().div_(levels)


def synthesize_low_light(
    images: torch.Tensor,
    params: LowLightParams = DEFAULT_LOW_LIGHT,
    generator: torch.Generator | None = None,
    return_trace: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, LowLightTrace]:
    """Darken sRGB images (B, 3, H, W) or (3, H, W) in [0, 1]; same shape and dtype out.

    With ``return_trace`` also returns a :class:`LowLightTrace` (the drawn parameters and the raw
    before and after noise).
    """
    single = images.dim() == 3
    batch = images[None] if single else images
    if batch.dim() != 4 or batch.shape[1] != 3 or not batch.is_floating_point():
        shape = tuple(images.shape)
        raise ValueError(f"expected float images (B, 3, H, W) or (3, H, W) in [0, 1], got {images.dtype} {shape}")
    x = batch.to(torch.float32)
    sample = sample_low_light(x.shape[0], params, generator, device=x.device)
    raw = unprocess(x, sample, preserve_highlights=params.preserve_highlights)
    ratio = sample.dark_ratio[:, None, None, None]
    dark_raw = raw.div_(ratio)
    noisy_raw = dark_raw
    if params.noise:
        noisy_raw = add_shot_read_noise(noisy_raw, sample.shot_noise, sample.read_noise, generator)
    if params.quantise:
        noisy_raw = quantise(noisy_raw, params.bit_depth)
    output = reprocess(noisy_raw * ratio if params.amplify else noisy_raw, sample).to(images.dtype)
    if single:
        output = output[0]
    if return_trace:
        return output, LowLightTrace(sample=sample, dark_raw=dark_raw, noisy_raw=noisy_raw)
    return output
