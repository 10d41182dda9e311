"""``wnlb-zoo darken SRC DST``: write a dark copy of an image folder or of a COCO-format dataset.

Every image is run through the physics-based low-light synthesis of :mod:`wnlb_zoo.data.lowlight`
(unprocess, exposure cut by the dark ratio, shot/read noise, quantisation, reprocess) and written
to DST under the same relative name. Without ``--annotations`` all images under SRC (recursively)
are darkened; with it, exactly the images its ``file_name`` entries list (relative to SRC), and
the annotation file is copied unchanged to DST: boxes and masks stay valid, as the synthesis does
not move pixels.

Outputs are 8-bit RGB (16-bit or grayscale inputs included). Each image gets its own random
parameters, seeded from ``--seed`` and its relative name, so a run is reproducible and an image's
result does not depend on the others.
"""

from __future__ import annotations

import argparse
import shutil
import zlib
from pathlib import Path, PurePosixPath

import torch

from ..data import AnnotationError, LowLightParams, read_coco_json, read_image, synthesize_low_light, write_image
from ..data.synthetic import item_seed
from .output_paths import writable_directory, writable_files

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
FORMATS = {"same": None, "png": ".png", "jpg": ".jpg"}
QUALITY_RANGE = (0, 100)  # Pillow's JPEG and WebP quality scale


def quality(text: str) -> int:
    """An argparse type: a JPEG/WebP quality in :data:`QUALITY_RANGE`."""
    low, high = QUALITY_RANGE
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, got {text!r}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = LowLightParams()
    parser = subparsers.add_parser(
        "darken",
        help="write a dark copy of an image folder or COCO dataset",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("src", type=Path, help="folder of images (the images folder of a COCO dataset)")
    parser.add_argument("dst", type=Path, help="output folder, created if needed; relative file names are kept")
    parser.add_argument(
        "--annotations", type=Path, help="COCO-format JSON: darken the images it lists and copy it to DST unchanged"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="same", help="output format (default: same)")
    parser.add_argument("--quality", type=quality, default=95, help="JPEG/WebP quality, 0-100 (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace files that already exist in DST")

    synthesis = parser.add_argument_group("low-light synthesis (defaults: Brooks et al. 2019, LIS)")
    ranges = (
        ("--dark-ratio", defaults.dark_ratio, "exposure cut, uniform"),
        ("--red-gain", defaults.red_gain, "white-balance gain, uniform"),
        ("--blue-gain", defaults.blue_gain, "white-balance gain, uniform"),
        ("--shot-noise", defaults.shot_noise, "shot-noise variance factor, log-uniform"),
    )
    for flag, default, meaning in ranges:
        help_text = f"{meaning} (default: %(default)s)"
        synthesis.add_argument(flag, type=float, nargs=2, metavar=("LOW", "HIGH"), default=default, help=help_text)
    synthesis.add_argument(
        "--brightness-gain",
        type=float,
        nargs=2,
        metavar=("MEAN", "STD"),
        default=(defaults.brightness_gain_mean, defaults.brightness_gain_std),
        help="the gain is 1 / N(MEAN, STD) (default: %(default)s)",
    )
    synthesis.add_argument(
        "--read-noise",
        type=float,
        nargs=3,
        metavar=("SLOPE", "INTERCEPT", "STD"),
        default=(defaults.read_noise_slope, defaults.read_noise_intercept, defaults.read_noise_std),
        help="log read = SLOPE * log shot + INTERCEPT + N(0, STD) (default: %(default)s)",
    )
    synthesis.add_argument("--bit-depth", type=int, default=defaults.bit_depth, help="ADC bits (default: %(default)s)")
    synthesis.add_argument("--no-noise", action="store_true", help="no shot/read noise")
    synthesis.add_argument("--no-quantise", action="store_true", help="no ADC quantisation")
    synthesis.add_argument("--fixed-ccm", action="store_true", help="one colour matrix instead of a random mix")
    synthesis.add_argument("--amplify", action="store_true", help="multiply back by the dark ratio: noisy, not dark")
    parser.set_defaults(handler=run)


def low_light_params(args: argparse.Namespace) -> LowLightParams:
    """The synthesis parameters the options ask for (ValueError when out of range)."""
    return LowLightParams(
        dark_ratio=tuple(args.dark_ratio),
        brightness_gain_mean=args.brightness_gain[0],
        brightness_gain_std=args.brightness_gain[1],
        red_gain=tuple(args.red_gain),
        blue_gain=tuple(args.blue_gain),
        shot_noise=tuple(args.shot_noise),
        read_noise_slope=args.read_noise[0],
        read_noise_intercept=args.read_noise[1],
        read_noise_std=args.read_noise[2],
        bit_depth=args.bit_depth,
        random_ccm=not args.fixed_ccm,
        noise=not args.no_noise,
        quantise=not args.no_quantise,
        amplify=args.amplify,
    )


def run(args: argparse.Namespace) -> int:
    params = low_light_params(args)
    src, dst = args.src, args.dst
    if not src.is_dir():
        raise FileNotFoundError(f"source folder not found: {src}")
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise ValueError(f"DST ({dst}) must be outside SRC ({src}): the originals would be overwritten or re-read")

    if args.annotations is not None:
        if args.format != "same":
            raise ValueError("--format must be 'same' with --annotations: the file names in the annotations must match")
        names = _annotated_names(args.annotations)
    else:
        names = _image_names(src)
    jobs = [(src / name, dst / _output_name(name, args.format), name) for name in names]
    missing = [str(source) for source, _, _ in jobs if not source.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} image file(s) not found, e.g. {missing[0]}")
    outputs = [output for _, output, _ in jobs]
    if args.annotations is not None:
        outputs.append(dst / args.annotations.name)
    writable_directory(dst, "DST")
    writable_files(outputs, "DST")
    existing = [str(path) for path in outputs if path.exists()]
    if existing and not args.overwrite:
        raise ValueError(f"{len(existing)} output file(s) exist, e.g. {existing[0]}; pass --overwrite to replace them")

    brightness_before = brightness_after = 0.0
    for source, output, name in jobs:
        image = read_image(source)
        generator = torch.Generator().manual_seed(item_seed(args.seed, zlib.crc32(name.encode("utf-8"))))
        dark = synthesize_low_light(image, params, generator)
        output.parent.mkdir(parents=True, exist_ok=True)
        write_image(dark, output, quality=args.quality)
        brightness_before += image.mean().item() / len(jobs)
        brightness_after += dark.mean().item() / len(jobs)
    print(
        f"darkened {len(jobs)} image(s) from {src} into {dst} "
        f"(mean brightness {brightness_before:.3f} -> {brightness_after:.3f})"
    )
    if args.annotations is not None:
        shutil.copyfile(args.annotations, dst / args.annotations.name)
        print(f"copied {args.annotations} to {dst / args.annotations.name} unchanged")
    return 0


def _image_names(src: Path) -> list[str]:
    names = sorted(
        path.relative_to(src).as_posix()
        for path in src.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    )
    if not names:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {src}")
    return names


def _annotated_names(annotation_file: Path) -> list[str]:
    """The distinct, normalised ``images[*].file_name`` of a COCO file (any task); each must stay inside SRC."""
    content = read_coco_json(annotation_file)
    images = content.get("images") if isinstance(content, dict) else None
    if not isinstance(images, list):
        raise AnnotationError(f"{annotation_file}: missing 'images'")
    names = []
    for position, image in enumerate(images):
        name = image.get("file_name") if isinstance(image, dict) else None
        if not isinstance(name, str) or not name:
            raise AnnotationError(f"{annotation_file}: images[{position}] has no 'file_name'")
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts:
            raise AnnotationError(f"{annotation_file}: images[{position}] 'file_name' {name!r} leaves SRC")
        names.append(path.as_posix())
    return list(dict.fromkeys(names))


def _output_name(name: str, output_format: str) -> str:
    suffix = FORMATS[output_format]
    return name if suffix is None else PurePosixPath(name).with_suffix(suffix).as_posix()
