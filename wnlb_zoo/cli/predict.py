"""``wnlb-zoo predict --checkpoint PATH IMAGES... --output DIR``: look at what a detector sees.

Writes one PNG per image, named after the image's whole file name (``a.jpg`` -> ``a.jpg.pred.png``,
so that no input is overwritten), with masks, boxes, class names and scores drawn (dark images are
brightened for display), and ``detections.json`` with every detection in COCO results format.
The images and the output files are checked before the detector is loaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine.checkpoint import load_detector
from ..engine.distributed import setup_distributed
from ..engine.predict import DETECTIONS_FILE, picture_paths, predict_images
from .output_paths import writable_directory, writable_files


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="draw a detector's predictions on images", description=__doc__)
    parser.add_argument("--checkpoint", required=True, help="checkpoint dir, its last/best link, or a run dir")
    parser.add_argument("images", nargs="+", help="image files")
    parser.add_argument("--output", required=True, help="folder for the pictures and detections.json")
    parser.add_argument("--score-threshold", type=float, default=0.5, help="draw detections above this score")
    parser.add_argument("--no-brighten", dest="brighten", action="store_false", help="draw on the image as it is")
    parser.add_argument("--device", default=None)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    missing = [image for image in args.images if not Path(image).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} image file(s) not found, e.g. {missing[0]}")
    output = writable_directory(args.output, "--output")
    writable_files([*picture_paths(args.images, output), output / DETECTIONS_FILE], "--output")
    model, spec, _ = load_detector(args.checkpoint)
    device = setup_distributed(args.device).device
    output = predict_images(model, spec, args.images, args.output, device, args.score_threshold, args.brighten)
    print(f"Wrote {len(args.images)} picture(s) and detections.json to {output}")
    return 0
