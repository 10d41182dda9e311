"""The datasets a fine-tuning run trains and validates on, chosen by name.

``synthetic`` (the built-in dark scenes), ``coco`` (any COCO-format instance files: a validation
file, or a seeded share of the training images held out), ``pennfudan`` (split deterministically
into train/val) and ``lis`` (its ``train`` and ``test`` splits). Optional low-light synthesis turns
normal-light data dark: randomly for training, and with a fixed seed per image for validation, so
that every evaluation sees the same dark images. ``evaluate`` builds the validation side alone
(``build_data(settings, train=False)``): a test set needs no training files.

A validation split drawn from the training data is fingerprinted (:func:`~wnlb_zoo.data.split.split_fingerprint`);
a run records the fingerprint in its settings, and rebuilding the data from those settings
(``--resume``, ``evaluate``) refuses a split that came out different, e.g. from an edited annotation file.
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
from ..data.split import split_fingerprint

DATASETS = ("synthetic", "coco", "pennfudan", "lis")
DARKEN_CHOICES = ("none", "train", "all")
COCO_VALIDATION = (
    " (validation: --val-ann --val-images, or without them --val-fraction of the training images held out)"
)


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
    #: Fingerprint of the validation split held out of the training data, as the run recorded it
    #: (None: not recorded yet, or validation data of its own).
    val_split_sha256: str | None = None


@dataclass
class DataSplits:
    """Training and validation data with what evaluation needs to know about the classes.

    ``train`` is None when only the validation side was built; ``val_split_sha256`` fingerprints a
    validation split held out of the training data (None for validation data of its own).
    """

    train: Dataset | None
    val: Dataset
    class_names: tuple[str, ...]
    label_to_category_id: dict[int, int]
    ground_truth: COCO
    val_split_sha256: str | None = None

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


def build_data(settings: DataSettings, train: bool = True) -> DataSplits:
    """Build the train/val datasets of ``settings`` with a flip (and optional darkening) for training.

    With ``train=False`` only the validation data is built (``train`` is None): what ``evaluate``
    needs, e.g. a COCO-format test set given by ``val_ann`` / ``val_images`` alone.
    """
    if settings.darken not in DARKEN_CHOICES:
        raise ValueError(f"--darken must be one of {DARKEN_CHOICES}, got {settings.darken!r}.")
    train_steps = [RandomHorizontalFlip(0.5)]
    if settings.darken in ("train", "all"):
        train_steps.append(RandomLowLight())
    train_data, val, fingerprint = _datasets(settings, Compose(train_steps), train)
    _check_split(settings, fingerprint)
    if len(val) == 0 or (train_data is not None and len(train_data) == 0):
        counts = f"{len(train_data)} training and " if train_data is not None else ""
        raise ValueError(f"The {settings.dataset} data gave {counts}{len(val)} validation images.")
    class_names = tuple(_class_names(val))
    if train_data is not None:
        if tuple(_class_names(train_data)) != class_names:
            raise ValueError(
                f"Training classes {tuple(_class_names(train_data))} differ from validation classes {class_names}: "
                "the two annotation files must list the same categories."
            )
        _require_objects(train_data)
    label_to_category_id = category_ids_for_labels(val)
    ground_truth = coco_ground_truth(val)
    if settings.darken == "all":
        val = SeededLowLight(val, settings.seed)
    return DataSplits(train_data, val, class_names, label_to_category_id, ground_truth, fingerprint)


def _datasets(
    settings: DataSettings, train_transforms: Compose, with_train: bool
) -> tuple[Dataset | None, Dataset, str | None]:
    """The training data (None unless ``with_train``), the validation data, and the fingerprint of a
    validation split held out of the training data (None for validation data of its own)."""
    name = settings.dataset
    if name == "synthetic":
        size = (settings.synthetic_size, settings.synthetic_size)
        lowlight = dataclasses.replace(DEFAULT_LOW_LIGHT, dark_ratio=tuple(settings.synthetic_dark_ratio))
        common = dict(image_size=size, num_classes=settings.synthetic_classes, lowlight=lowlight)
        val = SyntheticDarkScenes(settings.synthetic_val, seed=settings.seed + 1, **common)
        if not with_train:
            return None, val, None
        train = SyntheticDarkScenes(settings.synthetic_train, seed=settings.seed, transforms=train_transforms, **common)
        return train, val, None
    if name == "coco":
        return _coco(settings, train_transforms, with_train)
    if name == "pennfudan":
        _require(settings, ("root",), "pennfudan")
        train_part, val_part = train_val_split(PennFudan(settings.root), settings.val_fraction, settings.seed)
        train = (
            Subset(PennFudan(settings.root, transforms=train_transforms), train_part.indices) if with_train else None
        )
        return train, val_part, split_fingerprint(val_part)
    if name == "lis":
        _require(settings, ("root",), "lis")
        train = LIS(settings.root, "train", settings.variant, transforms=train_transforms) if with_train else None
        return train, LIS(settings.root, "test", settings.variant), None
    raise ValueError(f"Unknown dataset {name!r}: choose one of {DATASETS}.")


def _coco(
    settings: DataSettings, train_transforms: Compose, with_train: bool
) -> tuple[Dataset | None, Dataset, str | None]:
    """COCO-format data: validation from ``val_ann`` / ``val_images``, or ``val_fraction`` of the training
    images held out (seeded by ``seed``; images without annotations are split too, and stay in validation)."""
    own_validation = ("val_ann", "val_images")
    if any(getattr(settings, field) for field in own_validation):
        _require(settings, own_validation, "coco")
        val = CocoInstances(settings.val_images, settings.val_ann, keep_empty=True)
        if not with_train:
            return None, val, None
        _require(settings, ("train_ann", "train_images"), "coco", COCO_VALIDATION)
        train = CocoInstances(
            settings.train_images, settings.train_ann, transforms=train_transforms, keep_empty=settings.keep_empty
        )
        return train, val, None
    if not (settings.train_ann or settings.train_images) and not with_train:
        raise ValueError(
            "--dataset coco needs --val-ann --val-images: the annotation file and image folder to evaluate on."
        )
    _require(settings, ("train_ann", "train_images"), "coco", COCO_VALIDATION)
    whole = CocoInstances(settings.train_images, settings.train_ann, keep_empty=True)
    _, val = train_val_split(whole, settings.val_fraction, settings.seed)
    if not with_train:
        return None, val, split_fingerprint(val)
    augmented = CocoInstances(
        settings.train_images, settings.train_ann, transforms=train_transforms, keep_empty=settings.keep_empty,
        check_images=False,  # the same files as ``whole``, checked there
    )  # fmt: skip
    held_out = {whole.ids[index] for index in val.indices}
    train = Subset(augmented, [index for index, image_id in enumerate(augmented.ids) if image_id not in held_out])
    return train, val, split_fingerprint(val)


def _check_split(settings: DataSettings, fingerprint: str | None) -> None:
    """Refuse a held-out validation split other than the one the run recorded."""
    if settings.val_split_sha256 is not None and fingerprint != settings.val_split_sha256:
        raise ValueError(
            f"The validation split of the {settings.dataset} data (--val-fraction {settings.val_fraction}, seed "
            f"{settings.seed}) holds other images than the run held out: the training annotation file or image "
            "list changed since the run. Restore the data the run trained on, or evaluate on data given explicitly."
        )


def _require(settings: DataSettings, fields: tuple[str, ...], name: str, note: str = "") -> None:
    missing = [f"--{field.replace('_', '-')}" for field in fields if not getattr(settings, field)]
    if missing:
        raise ValueError(f"--dataset {name} needs {' '.join(missing)}{note}.")


def _require_objects(train: Dataset) -> None:
    """Refuse COCO-format training data without an object to learn from: a run on it would train on
    background alone (crowd regions are left out of the loss). The other datasets always hold objects."""
    base, indices = (train.dataset, train.indices) if isinstance(train, Subset) else (train, None)
    if not isinstance(base, CocoInstances):
        return
    instances, objects = base.instance_counts(indices)
    if objects:
        return
    held = f"only {instances} crowd region(s) (iscrowd=1)" if instances else "no annotation"
    raise ValueError(
        f"{base.annotation_file}: the {len(train)} training image(s) hold {held}, so there is nothing to "
        "train on: give a training annotation file with (non-crowd) instances."
    )


def _class_names(dataset: Dataset) -> list[str]:
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return list(dataset.class_names)
