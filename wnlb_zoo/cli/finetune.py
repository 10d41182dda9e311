"""``wnlb-zoo finetune``: train a wNLB Mask R-CNN on dark data (one process, or under torchrun).

Examples::

    wnlb-zoo finetune --config synthetic-cpu-demo       # built-in dark scenes, ~5 minutes on a CPU
    wnlb-zoo finetune --dataset coco --train-ann a.json --train-images imgs/ \\
        --val-ann b.json --val-images imgs/ --backbone wnlb_resnet50 --pretrained --amp bf16
    torchrun --nproc_per_node=8 -m wnlb_zoo finetune --dataset lis --root LIS --batch-size 2

The learning rate ``--lr`` is given for 16 images per optimiser step (as in torchvision's
references: 0.02 for 8 GPUs x 2 images) and scaled linearly to
batch-size x processes x grad-accum.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from ..engine.finetune import AMP_DTYPES, DEFAULT_LR, FinetuneConfig, finetune
from ..engine.schedule import SCHEDULES
from .config_file import add_config_option
from .dataset_options import add_dataset_options, data_settings
from .output_paths import writable_directory
from .resize_options import add_resize_options


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a wNLB Mask R-CNN on dark data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(parser)
    add_dataset_options(parser)
    defaults = FinetuneConfig()
    model = parser.add_argument_group("model")
    model.add_argument("--backbone", default=defaults.backbone, help="wNLB or timm model name (default: %(default)s)")
    model.add_argument(
        "--backbone-kwargs",
        type=json.loads,
        default={},
        help="timm kwargs as JSON, e.g. '{\"wnlb_stages\": [2, 3, 4]}'",
    )
    model.add_argument(
        "--detector-kwargs",
        type=json.loads,
        default={},
        help="torchvision MaskRCNN kwargs as JSON, e.g. '{\"box_batch_size_per_image\": 128}'",
    )
    model.add_argument("--pretrained", action="store_true", help="start the backbone from its pretrained weights")
    model.add_argument("--weights", help="start the whole detector from these weights (safetensors)")
    add_resize_options(model, defaults.min_size, defaults.max_size, defaults.interpolation)
    model.add_argument("--trainable-backbone-layers", type=int, default=None, help="0..5 (default: 3 if pretrained)")
    optim = parser.add_argument_group("optimisation")
    optim.add_argument("--epochs", type=int, default=defaults.epochs)
    optim.add_argument("--batch-size", type=int, default=defaults.batch_size, help="images per process and step")
    optim.add_argument("--optimizer", choices=tuple(DEFAULT_LR), default=defaults.optimizer)
    optim.add_argument("--lr", type=float, default=None, help=f"per 16 images (default: {DEFAULT_LR})")
    optim.add_argument("--momentum", type=float, default=defaults.momentum)
    optim.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    optim.add_argument("--schedule", choices=SCHEDULES, default=defaults.schedule)
    optim.add_argument("--warmup-iters", type=int, default=defaults.warmup_iters)
    optim.add_argument("--lr-steps", type=int, nargs="*", default=list(defaults.lr_steps), help="step schedule: epochs")
    optim.add_argument("--lr-gamma", type=float, default=defaults.lr_gamma)
    optim.add_argument("--grad-accum", type=int, default=defaults.grad_accum)
    optim.add_argument("--clip-grad", type=float, default=None, help="max gradient norm")
    optim.add_argument("--amp", choices=tuple(AMP_DTYPES), default=None, help="mixed precision")
    run = parser.add_argument_group("run")
    run.add_argument("--device", default=None, help="cuda, cpu, cuda:1 (default: cuda if available)")
    run.add_argument("--workers", type=int, default=defaults.workers, help="data loading processes")
    run.add_argument("--eval-batch-size", type=int, default=defaults.eval_batch_size)
    run.add_argument(
        "--eval-at-start", action="store_true", help="also evaluate the untrained model (logged as epoch 0)"
    )
    run.add_argument("--seed", type=int, default=defaults.seed)
    run.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm across torchrun processes")
    run.add_argument(
        "--channels-last", action="store_true", help="train in channels_last memory format (faster on recent GPUs)"
    )
    run.add_argument("--output", default=defaults.output, help="run directory (default: %(default)s)")
    run.add_argument(
        "--resume", nargs="?", const="auto", default=None, help="continue from --output's last checkpoint, or PATH"
    )
    run.add_argument("--no-export", dest="export", action="store_false", help="skip the export at the end")
    parser.set_defaults(handler=run_finetune)


def config_from_args(args: argparse.Namespace) -> FinetuneConfig:
    names = {field.name for field in dataclasses.fields(FinetuneConfig)} - {"data", "lr_steps"}
    return FinetuneConfig(
        data=data_settings(args), lr_steps=tuple(args.lr_steps), **{name: getattr(args, name) for name in names}
    )


def run_finetune(args: argparse.Namespace) -> int:
    writable_directory(args.output, "--output")  # before the data and the model are built
    finetune(config_from_args(args))
    return 0
