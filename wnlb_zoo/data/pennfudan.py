"""The Penn-Fudan pedestrian dataset in the layout of torchvision's fine-tuning tutorial.

``root/PNGImages/<name>.png`` are the photos, ``root/PedMasks/<name>_mask.png`` their instance
maps (0 = background, k = pedestrian k). One class, ``person`` (label 1). Targets follow
:mod:`wnlb_zoo.data.target`; ``image_id`` is the item index and no region is a crowd.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from .image_io import ImageReadError, read_image
from .target import PairTransform, Target, target_from_masks


class PennFudan(Dataset):
    """Penn-Fudan pedestrians: ``(image, target)`` items, photos in file-name order."""

    class_names = ["person"]

    def __init__(self, root: str | os.PathLike, transforms: PairTransform | None = None) -> None:
        self.root = Path(root)
        self.transforms = transforms
        image_dir, mask_dir = self.root / "PNGImages", self.root / "PedMasks"
        for folder in (image_dir, mask_dir):
            if not folder.is_dir():
                raise FileNotFoundError(f"Penn-Fudan folder not found: {folder} (expected PNGImages/ and PedMasks/)")
        self.image_files = sorted(image_dir.glob("*.png"))
        if not self.image_files:
            raise FileNotFoundError(f"no .png images in {image_dir}")
        self.mask_files = [mask_dir / f"{path.stem}_mask.png" for path in self.image_files]
        missing = [str(path) for path in self.mask_files if not path.is_file()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} Penn-Fudan mask file(s) missing, e.g. {missing[0]}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.image_files)

    def load_target(self, index: int) -> Target:
        """The target of item ``index``, decoded from its mask file alone (before ``transforms``)."""
        path = self.mask_files[index]
        try:
            with Image.open(path) as picture:
                instance_map = np.array(picture)
        except OSError as error:
            raise ImageReadError(f"cannot decode mask file {path}: {error}") from error
        if instance_map.ndim != 2 or instance_map.dtype.kind not in "ui":
            raise ImageReadError(f"mask file {path} must be one channel of integers, got {instance_map.shape}")
        present = np.bincount(instance_map.ravel().astype(np.int64, copy=False))  # pixel count per instance id
        instance_ids = torch.from_numpy(np.flatnonzero(present[1:]) + 1)
        masks = torch.from_numpy(instance_map.astype(np.int64, copy=False))[None] == instance_ids[:, None, None]
        labels = torch.ones(len(instance_ids), dtype=torch.int64)
        return target_from_masks(masks, labels, image_id=index)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Target]:
        image = read_image(self.image_files[index])
        target = self.load_target(index)
        if tuple(image.shape[1:]) != tuple(target["masks"].shape[1:]):
            raise ImageReadError(
                f"{self.image_files[index]} is {tuple(image.shape[1:])} but its mask "
                f"{self.mask_files[index]} is {tuple(target['masks'].shape[1:])}"
            )
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target
