"""Run a trained detector on image files: pictures of the predictions and COCO-format detections."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..data import read_image, write_image
from .detector_spec import DetectorSpec
from .evaluation import detections_to_coco
from .visualize import brighten_for_display, draw_predictions

DETECTIONS_FILE = "detections.json"
#: Appended to an image's whole file name to name its picture: ``a.jpg`` -> ``a.jpg.pred.png``.
PICTURE_SUFFIX = ".pred.png"


def picture_paths(images: Sequence[str | os.PathLike], output_dir: str | os.PathLike) -> list[Path]:
    """The picture file of each image in ``output_dir``: its file name followed by :data:`PICTURE_SUFFIX`.

    Keeping the whole name gives ``a.jpg`` and ``a.png`` different pictures and no picture the name
    of its own image. Raises ValueError when two images share a file name (from different folders)
    or when a picture or ``detections.json`` would replace an input image, which is never written.
    """
    output = Path(output_dir)
    pictures = [output / f"{Path(image).name}{PICTURE_SUFFIX}" for image in images]
    drawn_from: dict[Path, str | os.PathLike] = {}
    for image, picture in zip(images, pictures, strict=True):
        if picture in drawn_from:
            raise ValueError(
                f"{drawn_from[picture]} and {image} share a file name, so their pictures would overwrite each other: "
                "predict them into separate output folders."
            )
        drawn_from[picture] = image
    inputs = {Path(image).resolve(): image for image in images}
    for path in [*pictures, output / DETECTIONS_FILE]:
        image = inputs.get(path.resolve())
        if image is not None:
            raise ValueError(f"Writing {path} would overwrite the input image {image}: choose another output folder.")
    return pictures


@torch.inference_mode()
def predict_images(
    model: nn.Module,
    spec: DetectorSpec,
    images: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    device: torch.device,
    score_threshold: float = 0.5,
    brighten: bool = True,
) -> Path:
    """Write a picture per image (see :func:`picture_paths`) and ``detections.json`` (COCO results) into
    ``output_dir``; no input image is ever overwritten.

    Each detection carries ``image_id`` (the position of its image in ``images``) and the image's
    ``file_name``; all detections are written, the pictures show those above ``score_threshold``.
    Dark images are brightened for display only (``brighten``); detection runs on the original.
    """
    output = Path(output_dir)
    pictures = picture_paths(images, output)
    output.mkdir(parents=True, exist_ok=True)
    model.eval().to(device)
    detections = []
    for image_id, (path, picture_path) in enumerate(zip(images, pictures, strict=True)):
        image = read_image(path)
        prediction = {k: v.cpu() for k, v in model([image.to(device)])[0].items()}
        for result in detections_to_coco(prediction, image_id, spec.label_to_category_id):
            detections.append({**result, "file_name": Path(path).name})
        shown = brighten_for_display(image) if brighten else image
        picture = draw_predictions(shown, prediction, spec.class_names, score_threshold)
        write_image(picture.float() / 255, picture_path)
    (output / DETECTIONS_FILE).write_text(json.dumps(detections))
    return output
