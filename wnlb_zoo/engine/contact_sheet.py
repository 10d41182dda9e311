"""``predictions.png``: a contact sheet of a detector's predictions on a few validation images.

One row per image: the predictions (masks, boxes, class and score) beside the ground truth. The
images are shown as the detector saw them, brightened for display only (dark images would read as
black), with both pictures of a row brightened alike. The images are spread evenly over the
validation set, the same ones in every run of the same data; drawing uses no random generator.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from .figures import new_figure, save_figure
from .visualize import brighten_for_display, draw_ground_truth, draw_predictions

CONTACT_SHEET_FILE = "predictions.png"
#: Images a run's contact sheet shows (fewer when the validation set is smaller).
SHEET_IMAGES = 4
PANEL_INCHES = 3.2


def sheet_indices(length: int, count: int = SHEET_IMAGES) -> list[int]:
    """``count`` indices spread evenly over ``range(length)``, first and last included (all when fewer)."""
    if length <= count:
        return list(range(length))
    if count == 1:
        return [0]
    return [round(position * (length - 1) / (count - 1)) for position in range(count)]


@torch.inference_mode()
def draw_contact_sheet(
    model: nn.Module,
    dataset: Dataset,
    class_names: Sequence[str],
    device: torch.device,
    path: str | os.PathLike,
    count: int = SHEET_IMAGES,
    score_threshold: float = 0.5,
    title: str = "",
) -> Path:
    """Predict ``count`` images of ``dataset`` (``(image, target)`` items) and write the sheet to ``path``."""
    indices = sheet_indices(len(dataset), count)
    if not indices:
        raise ValueError("the validation set is empty: there is nothing to show")
    model.eval()
    class_names = tuple(class_names)
    rows = []
    for index in indices:
        image, target = dataset[index]
        prediction = {name: value.cpu() for name, value in model([image.to(device)])[0].items()}
        shown = brighten_for_display(image)
        rows.append(
            (
                target["image_id"],
                draw_predictions(shown, prediction, class_names, score_threshold),
                draw_ground_truth(shown, target, class_names),
            )
        )
    height, width = rows[0][1].shape[-2:]
    panel_height = PANEL_INCHES * height / width
    figure = new_figure(2 * PANEL_INCHES, len(rows) * (panel_height + 0.35) + (0.3 if title else 0))
    axes = figure.subplots(len(rows), 2, squeeze=False)
    for row, (image_id, predicted, truth) in zip(axes, rows, strict=True):
        for column, (picture, label) in enumerate(
            ((predicted, f"prediction (score >= {score_threshold:g})"), (truth, "ground truth"))
        ):
            row[column].imshow(picture.permute(1, 2, 0).numpy())
            row[column].set_title(f"image {int(image_id)}: {label}", fontsize=8)
            row[column].set_axis_off()
    if title:
        figure.suptitle(title, fontsize=9)
    return save_figure(figure, path, dpi=120)
