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
    """Write ``<stem>.png`` per image and ``detections.json`` (COCO results) into ``output_dir``.

    Each detection carries ``image_id`` (the position of its image in ``images``) and the image's
    ``file_name``; all detections are written, the pictures show those above ``score_threshold``.
    Dark images are brightened for display only (``brighten``); detection runs on the original.
    """
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    stems = [Path(path).stem for path in images]
    if len(set(stems)) != len(stems):
        raise ValueError("Two input images share a file name stem; their pictures would overwrite each other.")
    model.eval().to(device)
    detections = []
    for image_id, path in enumerate(images):
        image = read_image(path)
        prediction = {k: v.cpu() for k, v in model([image.to(device)])[0].items()}
        for result in detections_to_coco(prediction, image_id, spec.label_to_category_id):
            detections.append({**result, "file_name": Path(path).name})
        shown = brighten_for_display(image) if brighten else image
        picture = draw_predictions(shown, prediction, spec.class_names, score_threshold)
        write_image(picture.float() / 255, output / f"{Path(path).stem}.png")
    (output / DETECTIONS_FILE).write_text(json.dumps(detections))
    return output
