"""``wnlb-zoo evaluate --checkpoint PATH``: COCO box and mask AP of a trained detector.

Without dataset options the checkpoint's own validation data is used (as recorded by the run
that wrote it, a validation split held out of the training data included), so the numbers
reproduce the training log. Any data set can be given alone instead, e.g. a COCO-format test set::

    wnlb-zoo evaluate --checkpoint runs/mine/best --dataset coco --val-ann test.json --val-images test/
    wnlb-zoo evaluate --checkpoint runs/lis/best --dataset lis --root LIS --min-size 400 --max-size 600 \\
        --interpolation nearest       # the LIS test split at the LIS protocol's size

``--min-size``, ``--max-size`` and ``--interpolation`` default to the checkpoint's. Runs under
torchrun too. Before any evaluation work the metrics file is checked to be writable and the data's
classes to be the checkpoint's (same names, same order).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from ..engine.checkpoint import ACCEPTED_CHECKPOINTS, load_detector, load_run_config
from ..engine.data_sources import DataSettings, build_data
from ..engine.distributed import setup_distributed, teardown_distributed
from ..engine.evaluation import evaluate
from ..engine.report import ap_table_text
from .dataset_options import add_dataset_options, data_settings
from .output_paths import writable_file
from .resize_options import add_resize_options, resize_overrides

#: Dataset options that name files of one data set kind: meaningless without ``--dataset``.
DATASET_PATHS = ("train_ann", "train_images", "val_ann", "val_images", "root")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="COCO AP of a trained detector",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, help=ACCEPTED_CHECKPOINTS)
    add_dataset_options(parser)
    parser.set_defaults(dataset=None)
    add_resize_options(parser.add_argument_group("resizing"))
    parser.add_argument("--seed", type=int, default=None, help="split / synthesis seed (default: the run's)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default=None)
    parser.add_argument("--output", help="JSON file for the metrics (default: CHECKPOINT/evaluation.json)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    context = setup_distributed(args.device)
    try:
        model, spec, checkpoint = load_detector(args.checkpoint, **resize_overrides(args))
        output = writable_file(args.output or checkpoint / "evaluation.json", "--output")
        settings = _settings(args, checkpoint)
        data = build_data(settings, train=False)
        if data.class_names != spec.class_names:
            raise ValueError(
                f"{checkpoint} detects the classes {list(spec.class_names)} but the {settings.dataset} data has "
                f"{list(data.class_names)}: evaluate it on data with the same classes, in the same order."
            )
        model.to(context.device)
        metrics = evaluate(
            model, data.val, data.ground_truth, data.label_to_category_id, data.category_names, context,
            batch_size=args.batch_size, workers=args.workers,
        )  # fmt: skip
        if context.is_main:
            resizing = {"min_size": spec.min_size, "max_size": spec.max_size, "interpolation": spec.interpolation}
            title = f"{checkpoint} on {_describe(settings)}, {_describe_resizing(resizing)}"
            print(ap_table_text(metrics, title=title))
            record = {**metrics, "checkpoint": str(checkpoint), "data": dataclasses.asdict(settings), **resizing}
            output.write_text(json.dumps(record, indent=2))
            print(f"Metrics written to {output}")
    finally:
        teardown_distributed()
    return 0


def _settings(args: argparse.Namespace, checkpoint: Path) -> DataSettings:
    """The command line's data options, or the training run's when no --dataset is given.

    The seed (train/val split, synthetic scenes, fixed darkening) is the run's unless --seed is given,
    so that a run is evaluated on its own held-out images.
    """
    run = load_run_config(checkpoint)
    seed = args.seed if args.seed is not None else run.get("seed", 0)
    if args.dataset is not None:
        return dataclasses.replace(data_settings(args), seed=seed)
    given = [f"--{name.replace('_', '-')}" for name in DATASET_PATHS if getattr(args, name)]
    if given:
        raise ValueError(
            f"{' '.join(given)} given without --dataset: name the kind of data set they belong to "
            "(--dataset coco for --val-ann/--val-images, --dataset lis or pennfudan for --root)."
        )
    if not run.get("data"):
        raise ValueError(f"{checkpoint} records no dataset: pass --dataset and its options.")
    return DataSettings(**{**run["data"], "seed": seed})


def _describe(settings: DataSettings) -> str:
    """Which data was evaluated, in a few words for the table's title."""
    if settings.dataset == "coco" and settings.val_ann:
        return settings.val_ann
    if settings.dataset in ("coco", "pennfudan"):
        return f"the {settings.dataset} validation split ({settings.val_fraction:g} held out, seed {settings.seed})"
    if settings.dataset == "lis":
        return f"the LIS {settings.variant} test split"
    return "the synthetic validation scenes"


def _describe_resizing(resizing: dict) -> str:
    return f"min size {resizing['min_size']}, max size {resizing['max_size']}, {resizing['interpolation']}"
