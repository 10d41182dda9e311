"""The datasets a fine-tuning run trains and validates on, chosen by name.

``synthetic`` (the built-in dark scenes), ``coco`` (any COCO-format instance files), ``pennfudan``
(split deterministically into train/val) and ``lis`` (its ``train`` and ``test`` splits). Optional
low-light synthesis turns normal-light data dark: randomly for training, and with a fixed seed per
image for validation, so that every evaluation sees the same dark images.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from pycocotools.coco import COCO
from torch.utils.data import Dataset, Subset

from ..data import (
    DEFAULT_LOW_LIGHT,
    LIS,
    CocoInstances,
    Compose,
    PennFudan,
    RandomHorizontalFlip,
    RandomLowLight,
    SyntheticDarkScenes,
    category_ids_for_labels,
    coco_ground_truth,
    synthesize_low_light,
    train_val_split,
)

DATASETS = ("synthetic", "coco", "pennfudan", "lis")
DARKEN_CHOICES = ("none", "train", "all")


@dataclass(frozen=True)
class DataSettings:
    """Which data to use (fields as the ``finetune`` command-line options)."""

    dataset: str = "synthetic"
    train_ann: str | None = None
    train_images: str | None = None
    val_ann: str | None = None
    val_images: str | None = None
    root: str | None = None
    variant: str = "RGB-dark"
    val_fraction: float = 0.2
    synthetic_train: int = 128
    synthetic_val: int = 32
    synthetic_size: int = 128
    synthetic_classes: int = 3
    synthetic_dark_ratio: tuple[float, float] = DEFAULT_LOW_LIGHT.dark_ratio
    darken: str = "none"
    keep_empty: bool = True
    seed: int = 0


@dataclass
class DataSplits:
    """Training and validation data with what evaluation needs to know about the classes."""

    train: Dataset
    val: Dataset
    class_names: tuple[str, ...]
    label_to_category_id: dict[int, int]
    ground_truth: COCO

    @property
    def category_names(self) -> dict[int, str]:
        """Category id -> class name."""
        return {self.label_to_category_id[label]: name for label, name in enumerate(self.class_names, start=1)}


class SeededLowLight(Dataset):
    """``dataset`` with every image darkened by the same, per-index seeded synthesis each time."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self.class_names = getattr(dataset, "class_names", None)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        image, target = self.dataset[index]
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        return synthesize_low_light(image, generator=generator), target


def build_data(settings: DataSettings) -> DataSplits:
    """Build the train/val datasets of ``settings`` with a flip (and optional darkening) for training."""
    if settings.darken not in DARKEN_CHOICES:
        raise ValueError(f"--darken must be one of {DARKEN_CHOICES}, got {settings.darken!r}.")
    train_steps = [RandomHorizontalFlip(0.5)]
    if settings.darken in ("train", "all"):
        train_steps.append(RandomLowLight())
    train_transforms = Compose(train_steps)
    train, val = _datasets(settings, train_transforms)
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"The {settings.dataset} data gave {len(train)} training and {len(val)} validation images.")
    class_names = tuple(_class_names(train))
    if tuple(_class_names(val)) != class_names:
        raise ValueError(
            f"Training classes {class_names} differ from validation classes {tuple(_class_names(val))}: "
            "the two annotation files must list the same categories."
        )
    _require_objects(train)
    label_to_category_id = category_ids_for_labels(val)
    ground_truth = coco_ground_truth(val)
    if settings.darken == "all":
        val = SeededLowLight(val, settings.seed)
    return DataSplits(train, val, class_names, label_to_category_id, ground_truth)


def _datasets(settings: DataSettings, train_transforms: Compose) -> tuple[Dataset, Dataset]:
    name = settings.dataset
    if name == "synthetic":
        size = (settings.synthetic_size, settings.synthetic_size)
        lowlight = dataclasses.replace(DEFAULT_LOW_LIGHT, dark_ratio=tuple(settings.synthetic_dark_ratio))
        common = dict(image_size=size, num_classes=settings.synthetic_classes, lowlight=lowlight)
        train = SyntheticDarkScenes(settings.synthetic_train, seed=settings.seed, transforms=train_transforms, **common)
        val = SyntheticDarkScenes(settings.synthetic_val, seed=settings.seed + 1, **common)
        return train, val
    if name == "coco":
        required = ("train_ann", "train_images", "val_ann", "val_images")
        _require(settings, required, "coco")
        train = CocoInstances(
            settings.train_images, settings.train_ann, transforms=train_transforms, keep_empty=settings.keep_empty
        )
        val = CocoInstances(settings.val_images, settings.val_ann, keep_empty=True)
        return train, val
    if name == "pennfudan":
        _require(settings, ("root",), "pennfudan")
        train_part, val_part = train_val_split(PennFudan(settings.root), settings.val_fraction, settings.seed)
        train = Subset(PennFudan(settings.root, transforms=train_transforms), train_part.indices)
        return train, val_part
    if name == "lis":
        _require(settings, ("root",), "lis")
        train = LIS(settings.root, "train", settings.variant, transforms=train_transforms)
        return train, LIS(settings.root, "test", settings.variant)
    raise ValueError(f"Unknown dataset {name!r}: choose one of {DATASETS}.")


def _require(settings: DataSettings, fields: tuple[str, ...], name: str) -> None:
    missing = [f"--{field.replace('_', '-')}" for field in fields if not getattr(settings, field)]
    if missing:
        raise ValueError(f"--dataset {name} needs {' '.join(missing)}.")


def _require_objects(train: Dataset) -> None:
    """Refuse COCO-format training data without an object to learn from: a run on it would train on
    background alone (crowd regions are left out of the loss). The other datasets always hold objects."""
    if not isinstance(train, CocoInstances) or train.num_objects:
        return
    held = f"only {train.num_instances} crowd region(s) (iscrowd=1)" if train.num_instances else "no annotation"
    raise ValueError(
        f"{train.annotation_file}: the {len(train)} training image(s) hold {held}, so there is nothing to "
        "train on: give a training annotation file with (non-crowd) instances."
    )


def _class_names(dataset: Dataset) -> list[str]:
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return list(dataset.class_names)
