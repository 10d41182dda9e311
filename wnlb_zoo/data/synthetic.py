"""Procedurally generated dark scenes with instance masks: a dataset that needs no download.

Each scene is a textured background (a colour gradient with blotchy low-frequency noise and a
fine grain) with 1..``max_objects`` objects. An object's class is its shape (disc, square,
triangle, ring, star: the first ``num_classes`` of these); its colours and texture (flat, stripes,
checker, blotches) are random and independent of the class, so a detector has to learn shapes.
Objects are painted in order, later ones occluding earlier ones; the masks are the *visible*
parts, so the masks of a scene never overlap, and an object left with less than
``min_visible_fraction`` of its in-frame area (or fewer than ``min_visible_pixels`` pixels) is
removed from the scene altogether (not painted, not labelled). The scene is then darkened with
:func:`~wnlb_zoo.data.lowlight.synthesize_low_light`.

Item ``i`` is generated on access from its own generator, seeded from ``(seed, i)``: the dataset
is random-access, identical across runs and DataLoader workers, and costs no memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .lowlight import DEFAULT_LOW_LIGHT, LowLightParams, synthesize_low_light
from .target import PairTransform, Target, target_from_masks

SHAPES = ("disc", "square", "triangle", "ring", "star")
TEXTURES = ("flat", "stripes", "checker", "blotches")


def item_seed(seed: int, index: int) -> int:
    """A well-mixed 63-bit seed for item ``index`` of a dataset seeded with ``seed``."""
    state = np.random.SeedSequence([seed, index]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


class SyntheticDarkScenes(Dataset):
    """``num_images`` random dark scenes of ``image_size`` (H, W); targets as in :mod:`wnlb_zoo.data.target`.

    Args:
        num_images: dataset length.
        image_size: (height, width).
        num_classes: how many shapes are used, 1..5 (labels 1..num_classes).
        seed: dataset seed; item ``i`` depends on ``(seed, i)`` only.
        darken: apply the low-light synthesis (off: the clean, normal-light scene).
        max_objects: most objects painted per scene (before occlusion removes some).
        lowlight: parameters of the synthesis.
        min_visible_fraction, min_visible_pixels: how much of an object must stay visible.
        transforms: paired transform applied last.
    """

    def __init__(
        self,
        num_images: int,
        image_size: tuple[int, int] = (256, 256),
        num_classes: int = 3,
        seed: int = 0,
        darken: bool = True,
        max_objects: int = 6,
        lowlight: LowLightParams = DEFAULT_LOW_LIGHT,
        min_visible_fraction: float = 0.4,
        min_visible_pixels: int = 16,
        transforms: PairTransform | None = None,
    ) -> None:
        if not 1 <= num_classes <= len(SHAPES):
            raise ValueError(f"num_classes must be in 1..{len(SHAPES)}, got {num_classes}")
        if num_images < 0 or max_objects < 1 or min(image_size) < 16:
            raise ValueError("num_images must be >= 0, max_objects >= 1 and both image sides >= 16")
        self.num_images = num_images
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.num_classes = num_classes
        self.class_names = list(SHAPES[:num_classes])
        self.seed = seed
        self.darken = darken
        self.max_objects = max_objects
        self.lowlight = lowlight
        self.min_visible_fraction = min_visible_fraction
        self.min_visible_pixels = min_visible_pixels
        self.transforms = transforms

    def __len__(self) -> int:
        return self.num_images

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Target]:
        if not 0 <= index < self.num_images:
            raise IndexError(f"index {index} out of range for {self.num_images} images")
        generator = torch.Generator().manual_seed(item_seed(self.seed, index))
        image, masks, labels = render_scene(
            self.image_size,
            self.num_classes,
            self.max_objects,
            generator,
            self.min_visible_fraction,
            self.min_visible_pixels,
        )
        if self.darken:
            image = synthesize_low_light(image, self.lowlight, generator)
        target = target_from_masks(masks, labels, image_id=index)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target


def render_scene(
    image_size: tuple[int, int],
    num_classes: int,
    max_objects: int,
    generator: torch.Generator,
    min_visible_fraction: float = 0.4,
    min_visible_pixels: int = 16,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A normal-light scene: image (3, H, W) in [0, 1], visible masks (N, H, W) uint8, labels (N,) in 1..num_classes."""
    height, width = image_size
    image = _background(height, width, generator)
    count = int(torch.randint(1, max_objects + 1, (), generator=generator))
    objects = [_draw_object(height, width, num_classes, generator) for _ in range(count)]
    objects = [obj for obj in objects if obj.mask.any()]

    kept = _visible_objects(objects, height, width, min_visible_fraction, min_visible_pixels)
    instance_map = _instance_map([objects[k] for k in kept], height, width)
    for obj in (objects[k] for k in kept):
        window = image[:, obj.top : obj.top + obj.mask.shape[0], obj.left : obj.left + obj.mask.shape[1]]
        window.copy_(torch.where(obj.mask, obj.texture, window))
    masks = instance_map[None] == torch.arange(len(kept))[:, None, None]
    labels = torch.tensor([objects[k].label for k in kept], dtype=torch.int64)
    return image, masks.to(torch.uint8), labels


@dataclass
class _SceneObject:
    """One object: its label and, within its window at (top, left), its shape mask (h, w) and texture (3, h, w)."""

    label: int
    top: int
    left: int
    mask: torch.Tensor
    texture: torch.Tensor


def _smooth_noise(channels: int, height: int, width: int, cell: float, generator: torch.Generator) -> torch.Tensor:
    """Noise in [0, 1] varying over about ``cell`` pixels: a coarse random grid, bilinearly upsampled."""
    grid_size = (max(2, math.ceil(height / cell) + 1), max(2, math.ceil(width / cell) + 1))
    grid = torch.rand(1, channels, *grid_size, generator=generator)
    return F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=False)[0]


def _background(height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """A colour gradient at a random angle, blotchy low-frequency colour noise and a fine grain."""
    colours = 0.15 + 0.7 * torch.rand(2, 3, 1, 1, generator=generator)
    angle, cell = torch.rand(2, generator=generator).tolist()
    angle, cell = 2 * math.pi * angle, 0.08 + 0.17 * cell
    ys = torch.linspace(0.0, 1.0, height)[:, None]
    xs = torch.linspace(0.0, 1.0, width)[None, :]
    ramp = xs * math.cos(angle) + ys * math.sin(angle)
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    # In-place from here on: full-size temporaries cost as much as the arithmetic on a CPU.
    image = _smooth_noise(3, height, width, cell * min(height, width), generator).sub_(0.5).mul_(0.25)
    image.add_(colours[0]).add_((colours[1] - colours[0]) * ramp)
    image.add_(torch.rand(1, height, width, generator=generator).sub_(0.5).mul_(0.1))  # uniform grain, std 0.03
    return image.clamp_(0.0, 1.0)


def _draw_object(height: int, width: int, num_classes: int, generator: torch.Generator) -> _SceneObject:
    draw = torch.rand(6, generator=generator).tolist()
    shape = min(int(draw[0] * num_classes), num_classes - 1)
    radius = (0.08 + 0.14 * draw[1]) * min(height, width)
    cx, cy = (0.05 + 0.9 * draw[2]) * width, (0.05 + 0.9 * draw[3]) * height
    rotation = 2 * math.pi * draw[4]
    aspect = 0.6 + 0.4 * draw[5]

    top, bottom = max(0, math.floor(cy - radius)), min(height, math.ceil(cy + radius) + 1)
    left, right = max(0, math.floor(cx - radius)), min(width, math.ceil(cx + radius) + 1)
    ys = torch.arange(top, bottom, dtype=torch.float32)[:, None] + 0.5
    xs = torch.arange(left, right, dtype=torch.float32)[None, :] + 0.5
    dx, dy = xs - cx, ys - cy
    u = dx * math.cos(rotation) + dy * math.sin(rotation)
    v = -dx * math.sin(rotation) + dy * math.cos(rotation)
    mask = _shape_mask(SHAPES[shape], u, v, radius, aspect)
    texture = _texture(xs, ys, radius, generator)
    return _SceneObject(shape + 1, top, left, mask, texture)


def _shape_mask(shape: str, u: torch.Tensor, v: torch.Tensor, radius: float, aspect: float) -> torch.Tensor:
    """Inside-test of a shape centred at the origin of the rotated coordinates (u, v)."""
    if shape == "square":
        half = 0.7 * radius
        return (u.abs() <= half) & (v.abs() <= half * aspect)
    if shape == "triangle":  # equilateral, circumradius ``radius``: three half-planes at the apothem
        inside = torch.ones(torch.broadcast_shapes(u.shape, v.shape), dtype=torch.bool)
        for k in range(3):
            normal = 2 * math.pi * k / 3
            inside &= u * math.cos(normal) + v * math.sin(normal) <= radius / 2
        return inside
    distance = torch.sqrt(u**2 + v**2)
    if shape == "disc":
        return distance <= radius
    if shape == "ring":
        return (distance <= radius) & (distance >= 0.55 * radius)
    # star: five points; the boundary radius goes from 0.45 r (between points) to r (at the points)
    phase = torch.remainder(torch.atan2(v, u) * 5 / (2 * math.pi), 1.0)
    return distance <= radius * (0.45 + 0.55 * (2 * phase - 1).abs())


def _texture(xs: torch.Tensor, ys: torch.Tensor, radius: float, generator: torch.Generator) -> torch.Tensor:
    """(3, h, w) pattern of two random colours over the window with pixel coordinates xs (1, w), ys (h, 1)."""
    colours = torch.rand(2, 3, 1, 1, generator=generator)
    draw = torch.rand(3, generator=generator).tolist()
    kind = TEXTURES[min(int(draw[0] * len(TEXTURES)), len(TEXTURES) - 1)]
    period = (0.15 + 0.35 * draw[1]) * radius + 2.0
    angle = math.pi * draw[2]
    along = xs * math.cos(angle) + ys * math.sin(angle)
    if kind == "flat":
        pattern = torch.zeros_like(along)
    elif kind == "stripes":
        pattern = (torch.sin(along * (2 * math.pi / period)) > 0).float()
    elif kind == "checker":
        across = -xs * math.sin(angle) + ys * math.cos(angle)
        pattern = torch.remainder(torch.floor(along / period) + torch.floor(across / period), 2.0)
    else:
        pattern = (_smooth_noise(1, along.shape[0], along.shape[1], period, generator)[0] > 0.5).float()
    return colours[0] + (colours[1] - colours[0]) * pattern


def _instance_map(objects: list[_SceneObject], height: int, width: int) -> torch.Tensor:
    """(H, W) index of the object seen at each pixel (later objects on top), -1 for the background."""
    instance_map = torch.full((height, width), -1, dtype=torch.int64)
    for index, obj in enumerate(objects):
        window = instance_map[obj.top : obj.top + obj.mask.shape[0], obj.left : obj.left + obj.mask.shape[1]]
        window[obj.mask] = index
    return instance_map


def _visible_objects(
    objects: list[_SceneObject], height: int, width: int, min_fraction: float, min_pixels: int
) -> list[int]:
    """Indices of the objects that stay visible enough once all are painted.

    Removing an object only uncovers the ones below it, so one pass decides: the survivors are
    at least as visible in the final scene as they were here.
    """
    visible = torch.bincount(_instance_map(objects, height, width).flatten() + 1, minlength=len(objects) + 1)[1:]
    return [
        k
        for k, obj in enumerate(objects)
        if visible[k] >= min_pixels and visible[k] >= min_fraction * int(obj.mask.sum())
    ]
