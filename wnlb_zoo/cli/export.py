"""``wnlb-zoo export onnx --checkpoint RUN --output model.onnx``: a trained detector for deployment.

Exports the checkpoint's whole Mask R-CNN (resizing and post-processing included: one image of any
size in, boxes / labels / scores / masks out) and checks the exported model in onnxruntime against
PyTorch on sample images: ``--image`` files (the first one is the tracing example), or two synthetic
scenes at the detector's own size. The ONNX file is written only when every image gives the same
detections; ``--no-check`` writes it unchecked. The output path is checked before any work.
"""

from __future__ import annotations

import argparse
import math

from ..engine.onnx_export import (
    BOX_TOLERANCE,
    DEFAULT_OPSET,
    INPUT_NAME,
    MASK_TOLERANCE,
    SCORE_TOLERANCE,
    ImageCheck,
    OnnxCheckError,
    export_detector_onnx,
)
from .input_paths import existing_images
from .output_paths import writable_file
from .text_table import format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a trained detector (ONNX)", description=__doc__)
    formats = parser.add_subparsers(dest="export_format", metavar="FORMAT", required=True)
    onnx = formats.add_parser("onnx", help="the whole Mask R-CNN as one ONNX model, checked in onnxruntime")
    onnx.add_argument("--checkpoint", required=True, help="checkpoint dir, its last/best link, or a run dir")
    onnx.add_argument("--output", required=True, help="the .onnx file to write")
    onnx.add_argument(
        "--image", action="append", default=[], dest="images", help="a sample image (repeatable; default synthetic)"
    )
    onnx.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset, 14-20 (default: %(default)s)")
    onnx.add_argument("--no-check", dest="check", action="store_false", help="write it without the onnxruntime check")
    onnx.set_defaults(handler=run_onnx)


def run_onnx(args: argparse.Namespace) -> int:
    existing_images(args.images)
    output = writable_file(args.output, "--output")
    try:
        result = export_detector_onnx(args.checkpoint, output, args.images, opset=args.opset, check=args.check)
    except OnnxCheckError as error:
        print(check_table(error.checks))
        raise
    if result.checks:
        print(check_table(result.checks))
        print(f"onnxruntime gives the same detections as PyTorch on {len(result.checks)} image(s).")
    else:
        print("Not checked in onnxruntime (--no-check).")
    print(f"Wrote {result.path} (opset {result.opset}; input '{INPUT_NAME}': one float32 (3, H, W) image in [0, 1])")
    return 0


def check_table(checks: list[ImageCheck]) -> str:
    """One line per sample image: detections in PyTorch and onnxruntime, largest differences, verdict."""
    headers = ["image", "size", "detections (torch/onnx)", "max |d| box px", "score", "mask", "result"]
    rows = [
        [
            check.name,
            f"{check.size[0]}x{check.size[1]}",
            f"{check.torch_detections}/{check.onnx_detections}",
            *(_error(value) for value in (check.box_error, check.score_error, check.mask_error)),
            "same" if check.passed else "DIFFERENT",
        ]
        for check in checks
    ]
    tolerances = f"tolerances: box {BOX_TOLERANCE} px, score {SCORE_TOLERANCE}, mask {MASK_TOLERANCE}"
    return f"{format_table(headers, rows)}\n({tolerances}; labels must be equal)"


def _error(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1e}"
