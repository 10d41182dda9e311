"""``wnlb-zoo predict --checkpoint PATH IMAGES... --output DIR``: look at what a detector sees.

Writes one PNG per image, named after the image's whole file name (``a.jpg`` -> ``a.jpg.pred.png``,
so that no input is overwritten), with masks, boxes, class names and scores drawn (dark images are
brightened for display), and ``detections.json`` with every detection in COCO results format.
The images and the output files are checked before the detector is loaded; ``--min-size``,
``--max-size`` and ``--interpolation`` default to the checkpoint's.
"""

from __future__ import annotations

import argparse

from ..engine.checkpoint import ACCEPTED_CHECKPOINTS, load_detector
from ..engine.distributed import setup_distributed
from ..engine.predict import DETECTIONS_FILE, picture_paths, predict_images
from .input_paths import existing_images
from .output_paths import writable_directory, writable_files
from .resize_options import add_resize_options, resize_overrides


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="draw a detector's predictions on images", description=__doc__)
    parser.add_argument("--checkpoint", required=True, help=ACCEPTED_CHECKPOINTS)
    parser.add_argument("images", nargs="+", help="image files")
    parser.add_argument("--output", required=True, help="folder for the pictures and detections.json")
    parser.add_argument("--score-threshold", type=float, default=0.5, help="draw detections above this score")
    parser.add_argument("--no-brighten", dest="brighten", action="store_false", help="draw on the image as it is")
    parser.add_argument("--device", default=None)
    add_resize_options(parser.add_argument_group("resizing"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    existing_images(args.images)
    output = writable_directory(args.output, "--output")
    writable_files([*picture_paths(args.images, output), output / DETECTIONS_FILE], "--output")
    model, spec, _ = load_detector(args.checkpoint, **resize_overrides(args))
    device = setup_distributed(args.device).device
    output = predict_images(model, spec, args.images, args.output, device, args.score_threshold, args.brighten)
    print(f"Wrote {len(args.images)} picture(s) and detections.json to {output}")
    return 0
