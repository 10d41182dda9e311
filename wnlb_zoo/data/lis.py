"""LIS, the low-light instance segmentation benchmark (Chen et al., "Instance Segmentation in the Dark", IJCV 2023).

Layout, as the dataset ships::

    root/RGB-normal/JPEGImages/<n>.JPG      root/RAW-normal/JPEGImages/<n>.png
    root/RGB-dark/JPEGImages/<n>.JPG        root/RAW-dark/JPEGImages/<n>.png
    root/annotations/lis_coco_{JPG,png}_{train,test,traintest}[+1].json

Normal and dark shots of a scene are numbered in pairs: the dark image's number is the normal
one's plus one. The ``+1`` annotation files hold the labels of the dark images (their
``file_name`` entries point at ``<n+1>``, e.g. id 1809 -> ``./JPEGImages/1810.JPG`` in
``lis_coco_JPG_test+1.json``); the files without ``+1`` those of the normal ones. ``JPG`` files
belong to the RGB variants and ``png`` files to the RAW ones. Eight classes with category ids
0..7 (labels 1..8). Split sizes: train 1,561 images, test 669.

RAW variants are read like any image (16-bit PNGs keep their precision, see
:mod:`wnlb_zoo.data.image_io`); a file whose pixel grid differs from the annotation's
``height``/``width`` gives an error naming it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from .coco import CocoInstances
from .coco_format import AnnotationError
from .target import PairTransform

LIS_CLASS_NAMES = ("bicycle", "chair", "diningtable", "bottle", "motorbike", "car", "tvmonitor", "bus")
LIS_VARIANTS = ("RGB-normal", "RGB-dark", "RAW-normal", "RAW-dark")
LIS_SPLITS = ("train", "test", "traintest")
_ANNOTATION_NAME = re.compile(r"lis_coco_(?P<kind>JPG|png)_(?P<split>train|test|traintest)(?P<dark>\+1)?\.json")


def lis_annotation_name(split: str, variant: str) -> str:
    """The annotation file name of a split and variant, e.g. ``lis_coco_JPG_test+1.json`` for RGB-dark."""
    if split not in LIS_SPLITS:
        raise ValueError(f"unknown LIS split {split!r}; expected one of {', '.join(LIS_SPLITS)}")
    if variant not in LIS_VARIANTS:
        raise ValueError(f"unknown LIS variant {variant!r}; expected one of {', '.join(LIS_VARIANTS)}")
    kind = "JPG" if variant.startswith("RGB") else "png"
    suffix = "+1" if variant.endswith("dark") else ""
    return f"lis_coco_{kind}_{split}{suffix}.json"


class LIS(CocoInstances):
    """One split and variant of LIS, as a :class:`~wnlb_zoo.data.coco.CocoInstances`.

    Args:
        root: the LIS folder (holding the variant folders and ``annotations/``).
        split: ``train``, ``test`` or ``traintest``.
        variant: ``RGB-dark`` (default), ``RGB-normal``, ``RAW-dark`` or ``RAW-normal``.
        transforms: paired transform, see :mod:`wnlb_zoo.data.transforms`.
        keep_empty: keep images without annotations (LIS has none).
        check_images: check the image files from their headers when the dataset is built.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "test",
        variant: str = "RGB-dark",
        transforms: PairTransform | None = None,
        keep_empty: bool = True,
        check_images: bool = True,
    ) -> None:
        root = Path(root)
        annotation_file = root / "annotations" / lis_annotation_name(split, variant)
        self._init_lis(root / variant, annotation_file, split, variant, transforms, keep_empty, check_images)

    @classmethod
    def from_annotation_file(
        cls,
        annotation_file: str | os.PathLike,
        images_dir: str | os.PathLike | None = None,
        transforms: PairTransform | None = None,
        keep_empty: bool = True,
        check_images: bool = False,
    ) -> LIS:
        """LIS from one annotation file, e.g. to count its labels where the images are absent.

        ``split`` and ``variant`` are read from a standard file name (None for another name).
        ``images_dir`` is the variant folder holding ``JPEGImages/``; it defaults to the
        annotation file's folder, where reading an item fails with the missing file's path; the
        image files are checked when the dataset is built only if ``check_images`` is set.
        """
        annotation_file = Path(annotation_file)
        match = _ANNOTATION_NAME.fullmatch(annotation_file.name)
        split = variant = None
        if match:
            split = match["split"]
            variant = ("RGB" if match["kind"] == "JPG" else "RAW") + ("-dark" if match["dark"] else "-normal")
        dataset = cls.__new__(cls)
        images_dir = images_dir if images_dir is not None else annotation_file.parent
        dataset._init_lis(Path(images_dir), annotation_file, split, variant, transforms, keep_empty, check_images)
        return dataset

    def _init_lis(
        self,
        images_dir: Path,
        annotation_file: Path,
        split: str | None,
        variant: str | None,
        transforms: PairTransform | None,
        keep_empty: bool,
        check_images: bool,
    ) -> None:
        """Read the file, check that it holds LIS's eight categories and, for a known variant, its image kind,
        then (``check_images``) the image files."""
        super().__init__(images_dir, annotation_file, transforms=transforms, keep_empty=keep_empty, check_images=False)
        self.split, self.variant = split, variant
        categories = {cid: self.class_names[label - 1] for label, cid in self.label_to_category_id.items()}
        if categories != dict(enumerate(LIS_CLASS_NAMES)):
            raise AnnotationError(
                f"{self.annotation_file}: 'categories' are {categories}, not LIS's {dict(enumerate(LIS_CLASS_NAMES))}"
            )
        if variant is not None:
            expected_suffix = ".jpg" if variant.startswith("RGB") else ".png"
            for image in self.coco.imgs.values():
                if PurePosixPath(image["file_name"]).suffix.lower() != expected_suffix:
                    raise AnnotationError(
                        f"{self.annotation_file}: image id {image['id']} 'file_name' {image['file_name']!r} is not a "
                        f"{expected_suffix} file as the {variant} variant expects"
                    )
        if check_images:
            self._check_images()
