"""``wnlb-zoo evaluate --checkpoint PATH``: COCO box and mask AP of a trained detector.

Without dataset options the checkpoint's own validation data is used (as recorded by the run
that wrote it), so the numbers reproduce the training log. Runs under torchrun too. Before any
evaluation work the metrics file is checked to be writable and the data's classes to be the
checkpoint's (same names, same order).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from ..engine.checkpoint import load_detector, load_run_config
from ..engine.data_sources import DataSettings, build_data
from ..engine.distributed import setup_distributed, teardown_distributed
from ..engine.evaluation import evaluate
from ..engine.report import print_ap_table
from .dataset_options import add_dataset_options, data_settings
from .output_paths import writable_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="COCO AP of a trained detector", description=__doc__)
    parser.add_argument("--checkpoint", required=True, help="checkpoint dir, its last/best link, or a run dir")
    add_dataset_options(parser)
    parser.set_defaults(dataset=None)
    parser.add_argument("--seed", type=int, default=None, help="split / synthesis seed (default: the run's)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default=None)
    parser.add_argument("--output", help="JSON file for the metrics (default: CHECKPOINT/evaluation.json)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    context = setup_distributed(args.device)
    try:
        model, spec, checkpoint = load_detector(args.checkpoint)
        output = writable_file(args.output or checkpoint / "evaluation.json", "--output")
        settings = _settings(args, checkpoint)
        data = build_data(settings)
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
            print_ap_table(metrics, title=f"{checkpoint} on {settings.dataset} validation data")
            output.write_text(json.dumps(metrics, indent=2))
            print(f"Metrics written to {output}")
    finally:
        teardown_distributed()
    return 0


def _settings(args: argparse.Namespace, checkpoint: Path) -> DataSettings:
    """The command line's data options, or the training run's when no --dataset is given.

    The seed (train/val split, synthetic scenes, fixed darkening) is the run's unless --seed is given,
    so that a Penn-Fudan run is evaluated on its own held-out images.
    """
    run = load_run_config(checkpoint)
    seed = args.seed if args.seed is not None else run.get("seed", 0)
    if args.dataset is not None:
        return dataclasses.replace(data_settings(args), seed=seed)
    if not run.get("data"):
        raise ValueError(f"{checkpoint} records no dataset: pass --dataset and its options.")
    return DataSettings(**{**run["data"], "seed": seed})
