"""Where a Mask R-CNN training step spends its time: the operators of each detector, by self device time.

``python scripts/profile_training_step.py --detectors resnet50 wnlb_resnet50_keys32`` builds each
detector as ``wnlb-zoo bench --parts detection`` does (same presets, synthetic batch, ``lr=0``),
runs ``--warmup`` steps, then profiles ``--steps`` steps with :mod:`torch.profiler` and prints the
``--rows`` operators with the most self time on the device (CPU time where there is no GPU). Comparing
two detectors' tables shows what a wNLB configuration adds beyond its base. ``--output DIR`` saves
each table as text, and with ``--trace`` a Chrome trace too (open it in https://ui.perfetto.dev).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from wnlb_zoo.benchmark.detection import (
    DETECTOR_PRESETS,
    benchmarked_detector,
    build_detector,
    synthetic_batch,
    train_step,
)
from wnlb_zoo.benchmark.environment import device_name
from wnlb_zoo.benchmark.precision import DTYPES
from wnlb_zoo.benchmark.shapes import parse_size


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--detectors",
        nargs="+",
        default=["resnet50", "wnlb_resnet50"],
        help=f"presets {sorted(DETECTOR_PRESETS)} or timm backbone names",
    )
    parser.add_argument("--size", type=parse_size, default=(800, 1333), help="input HxW (default 800x1333)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rows", type=int, default=30)
    parser.add_argument("--output", type=Path, help="folder for the tables (and traces)")
    parser.add_argument("--trace", action="store_true", help="also save a Chrome trace per detector in --output")
    return parser.parse_args()  # fmt: skip


def profile_training(
    name: str, images: list, targets: list, args: argparse.Namespace, device: torch.device
) -> torch.profiler.profile:
    """Profile ``args.steps`` training steps of the detector ``name`` after ``args.warmup`` unprofiled ones."""
    torch.manual_seed(0)
    model = build_detector(benchmarked_detector(name), images[0].shape[-2:]).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)

    for _ in range(args.warmup):
        train_step(model, optimizer, images, targets, device, args.dtype)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    with profile(activities=activities) as profiler:
        for _ in range(args.steps):
            train_step(model, optimizer, images, targets, device, args.dtype)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return profiler


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    images, targets = synthetic_batch(args.batch, args.size, device)
    sort_by = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    size = "x".join(map(str, args.size))
    print(f"device: {device_name(device)}; torch {torch.__version__}; {size}, batch {args.batch}, {args.dtype}")
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
    for name in args.detectors:
        profiler = profile_training(name, images, targets, args, device)
        table = profiler.key_averages().table(sort_by=sort_by, row_limit=args.rows, max_name_column_width=60)
        print(f"\n## {name} ({args.steps} steps)\n{table}")
        if args.output:
            (args.output / f"{name}.txt").write_text(table)
        if args.output and args.trace:
            profiler.export_chrome_trace(str(args.output / f"{name}.trace.json"))
        if device.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
