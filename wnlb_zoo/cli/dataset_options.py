"""Command-line options that choose a dataset, shared by ``finetune`` and ``evaluate``.

``evaluate`` reads the validation side only: a COCO-format test set needs just ``--val-ann`` and
``--val-images``, LIS its ``test`` split.
"""

from __future__ import annotations

import argparse
import dataclasses

from ..data import LIS_VARIANTS
from ..engine.data_sources import DARKEN_CHOICES, DATASETS, DataSettings


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--dataset`` and the options of each dataset kind to ``parser``."""
    defaults = DataSettings()
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", choices=DATASETS, default=defaults.dataset, help="(default: %(default)s)")
    group.add_argument("--train-ann", help="coco: training annotation JSON")
    group.add_argument("--train-images", help="coco: training image folder")
    group.add_argument("--val-ann", help="coco: validation (evaluate: test) annotation JSON")
    group.add_argument("--val-images", help="coco: validation (evaluate: test) image folder")
    group.add_argument("--root", help="pennfudan / lis: dataset folder")
    group.add_argument("--variant", choices=LIS_VARIANTS, default=defaults.variant, help="lis: image variant")
    group.add_argument(
        "--val-fraction",
        type=float,
        default=defaults.val_fraction,
        help="pennfudan, and coco without --val-ann: share of the training images held out for validation "
        "(seeded by --seed; default: %(default)s)",
    )
    group.add_argument("--synthetic-train", type=int, default=defaults.synthetic_train, help="synthetic: train images")
    group.add_argument("--synthetic-val", type=int, default=defaults.synthetic_val, help="synthetic: val images")
    group.add_argument("--synthetic-size", type=int, default=defaults.synthetic_size, help="synthetic: image side")
    group.add_argument("--synthetic-classes", type=int, default=defaults.synthetic_classes, help="synthetic: classes")
    group.add_argument(
        "--synthetic-dark-ratio",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        default=list(defaults.synthetic_dark_ratio),
        help="synthetic: exposure cut range of the darkening (default: %(default)s, the LIS range)",
    )
    group.add_argument(
        "--darken",
        choices=DARKEN_CHOICES,
        default=defaults.darken,
        help="low-light synthesis of normal-light data: 'train' (random, training only) or 'all' "
        "(also a fixed darkening of validation images) (default: %(default)s)",
    )
    group.add_argument("--drop-empty", action="store_true", help="coco: drop training images without annotations")


def data_settings(args: argparse.Namespace) -> DataSettings:
    """The :class:`DataSettings` the parsed options describe."""
    names = {f.name for f in dataclasses.fields(DataSettings)} - {"keep_empty", "seed", "val_split_sha256"}
    return DataSettings(
        **{name: getattr(args, name) for name in names},
        keep_empty=not args.drop_empty,
        seed=getattr(args, "seed", None) or 0,
    )
