"""``wnlb-zoo bench``: measure the wNLB layer, wNLB backbones and Mask R-CNN on them.

Four parts, each selectable with ``--parts``:

* layer: one wNLB per mode, the materialised textbook block ("naive") against ours, at the
  ResNet-50 stage shapes of the given image sizes, forward and forward+backward;
* kernels: the block's attention alone (head size C' = C / 2), one kernel at a time: SDPA
  restricted to one backend (flash, cuDNN, memory-efficient) and the block's blockwise path for
  wide heads, at the same shapes;
* backbone: ``features_only`` inference img/s and peak memory of each wNLB model and its base;
* detection: Mask R-CNN training img/s and peak memory, and batch-1 inference latency,
  torchvision's ``maskrcnn_resnet50_fpn`` against our builder on plain and wNLB backbones.

Times are medians of ``--repeats`` calls after ``--warmup`` (CUDA events on a GPU). The result,
with device, versions, date, machine load and this command, is written as JSON and printed as
tables. ``--quick`` is a CPU-sized run; any option given next to it overrides it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import torch

from ..benchmark import PARTS, BenchmarkConfig, format_report, parse_size, quick_config, run_benchmark, write_json
from ..benchmark.detection import DETECTOR_PRESETS
from ..benchmark.kernels import KERNEL_BACKENDS
from ..benchmark.layer import IMPLEMENTATIONS, PASSES
from ..benchmark.precision import DTYPES
from ..benchmark.suite import SDPA_BACKENDS
from ..layers import NON_LOCAL_MODES

#: Command-line option (dest) -> BenchmarkConfig field.
_FIELDS = {
    "parts": "parts", "device": "device", "warmup": "warmup", "repeats": "repeats", "sizes": "layer_sizes",
    "stages": "layer_stages", "modes": "layer_modes", "dtypes": "layer_dtypes", "passes": "layer_passes",
    "implementations": "layer_implementations", "kernel_backends": "kernel_backends", "layer_batch": "layer_batch",
    "max_naive_gib": "max_naive_gib",
    "backbones": "backbone_models", "backbone_size": "backbone_size", "backbone_batch": "backbone_batch",
    "backbone_dtypes": "backbone_dtypes", "detectors": "detectors", "detection_size": "detection_size",
    "detection_batch": "detection_batch", "detection_dtype": "detection_dtype", "rounds": "detection_rounds",
    "sdpa_priority": "sdpa_priority",
}  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark the wNLB layer, backbones and Mask R-CNN",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a CPU-sized run (small images, batch 1, fp32)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, help="parts to run (default: all)")
    parser.add_argument("--device", help="'cpu', 'cuda', 'cuda:1' ... (default: cuda when available)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--warmup", type=int, help="untimed calls before timing (default 2; quick 1)")
    parser.add_argument("--repeats", type=int, help="timed calls; the median is reported (default 5; quick 3)")
    parser.add_argument("--channels-last", action="store_true", help="run inputs and models in channels_last")
    parser.add_argument("--sdpa-priority", nargs="+", choices=tuple(SDPA_BACKENDS), help="SDPA backends to try first")
    parser.add_argument("--output", type=Path, default=Path("benchmark.json"), help="JSON file (default %(default)s)")
    parser.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    layer = parser.add_argument_group("layer")
    layer.add_argument("--sizes", nargs="+", type=parse_size, help="input sizes HxW (default 400x600 800x1333)")
    layer.add_argument("--stages", nargs="+", type=int, choices=(1, 2, 3, 4), help="ResNet-50 stages (default all)")
    layer.add_argument("--modes", nargs="+", choices=NON_LOCAL_MODES, help="wNLB modes (default all)")
    layer.add_argument("--dtypes", nargs="+", choices=tuple(DTYPES), help="fp32 and/or bf16 autocast")
    layer.add_argument("--passes", nargs="+", choices=PASSES, help="fwd and/or fwd+bwd")
    layer.add_argument("--implementations", nargs="+", choices=IMPLEMENTATIONS, help="naive and/or ours")
    layer.add_argument("--layer-batch", type=int, help="images per layer call (default 1)")
    layer.add_argument("--max-naive-gib", type=float, help="skip naive cases needing more (default: 4 on CPU)")
    kernels = parser.add_argument_group("kernels (the attention alone, at the layer's shapes, dtypes and passes)")
    kernels.add_argument("--kernel-backends", nargs="+", choices=tuple(KERNEL_BACKENDS), help="default: all")
    backbone = parser.add_argument_group("backbone")
    backbone.add_argument("--backbones", nargs="+", help="wNLB models, each measured with its base (default all)")
    backbone.add_argument("--backbone-size", type=parse_size, help="input size HxW (default 800x1333)")
    backbone.add_argument("--backbone-batch", type=int, help="images per call (default 8)")
    backbone.add_argument("--backbone-dtypes", nargs="+", choices=tuple(DTYPES), help="default bf16 (quick fp32)")
    detection = parser.add_argument_group("detection")
    detection.add_argument(
        "--detectors",
        nargs="+",
        help=f"presets {', '.join(DETECTOR_PRESETS)} or timm backbone names (default: all presets)",
    )
    detection.add_argument("--detection-size", type=parse_size, help="image size HxW (default 800x1333)")
    detection.add_argument("--detection-batch", type=int, help="training batch (default 8)")
    detection.add_argument("--detection-dtype", choices=tuple(DTYPES), help="default bf16 (quick fp32)")
    detection.add_argument(
        "--rounds",
        type=int,
        help="measure training in this many rounds over all detectors, order reversed every other round (default 1)",
    )
    detection.add_argument("--no-inference", action="store_true", help="skip the batch-1 inference latency")
    parser.set_defaults(handler=run)


def build_config(args: argparse.Namespace) -> BenchmarkConfig:
    """The quick or full configuration with every explicitly given option applied."""
    overrides: dict[str, Any] = {
        field: getattr(args, dest) for dest, field in _FIELDS.items() if getattr(args, dest) is not None
    }
    if args.channels_last:
        overrides["channels_last"] = True
    if args.no_inference:
        overrides["detection_inference"] = False
    config = quick_config() if args.quick else BenchmarkConfig()
    return dataclasses.replace(config, **overrides)


def invocation() -> list[str]:
    """This process's command line as typed: ``wnlb-zoo bench ...`` or ``python scripts/benchmark.py ...``."""
    program = sys.argv[0]
    head = ["python", program] if program.endswith(".py") else [Path(program).name]
    return [*head, *sys.argv[1:]]


def run(args: argparse.Namespace) -> int:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = build_config(args)

    def progress(record: dict[str, Any]) -> None:
        print(json.dumps(record), file=sys.stderr, flush=True)

    result = run_benchmark(config, invocation(), on_record=progress)
    write_json(result, args.output)
    print(format_report(result, markdown=args.markdown))
    print(f"\nwrote {args.output}")
    return 0
