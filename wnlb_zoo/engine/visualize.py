"""Draw a detector's predictions, or an image's ground truth, on an image: masks, boxes, class names (and scores)."""

from __future__ import annotations

import torch
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks


def brighten_for_display(image: torch.Tensor, percentile: float = 0.99) -> torch.Tensor:
    """Scale a dark image so that its ``percentile`` brightness becomes white (display only)."""
    level = torch.quantile(image.flatten()[:: max(image.numel() // 100_000, 1)].float(), percentile)
    return (image / level.clamp(min=1e-3)).clamp(0, 1)


def draw_predictions(
    image: torch.Tensor,
    prediction: dict[str, torch.Tensor],
    class_names: tuple[str, ...],
    score_threshold: float = 0.5,
) -> torch.Tensor:
    """Return a uint8 (3, H, W) picture of ``image`` with the predictions above ``score_threshold``."""
    keep = prediction["scores"] >= score_threshold
    labels = prediction["labels"][keep].cpu()
    masks = prediction["masks"][keep][:, 0].cpu() > 0.5 if "masks" in prediction else None
    scores = prediction["scores"][keep].tolist()
    captions = [f"{class_names[int(label) - 1]} {score:.2f}" for label, score in zip(labels, scores, strict=True)]
    return draw_instances(image, prediction["boxes"][keep], labels, captions, len(class_names), masks)


def draw_ground_truth(
    image: torch.Tensor, target: dict[str, torch.Tensor], class_names: tuple[str, ...]
) -> torch.Tensor:
    """Return a uint8 (3, H, W) picture of ``image`` with the target's masks, boxes and class names.

    Colours follow the labels as in :func:`draw_predictions`, so that a picture of the predictions
    and one of the ground truth compare at a glance; crowd regions are captioned as such.
    """
    labels = target["labels"].cpu()
    crowd = target.get("iscrowd", torch.zeros_like(labels)).tolist()
    captions = [
        class_names[int(label) - 1] + (" (crowd)" if is_crowd else "")
        for label, is_crowd in zip(labels, crowd, strict=True)
    ]
    masks = target["masks"].cpu().bool() if "masks" in target else None
    return draw_instances(image, target["boxes"], labels, captions, len(class_names), masks)


def draw_instances(
    image: torch.Tensor,
    boxes: torch.Tensor,
    labels: torch.Tensor,
    captions: list[str],
    num_classes: int,
    masks: torch.Tensor | None = None,
) -> torch.Tensor:
    """``image`` (float in [0, 1]) as uint8 with ``masks`` (N, H, W bool) filled and ``boxes`` (xyxy) captioned,
    in one colour per label."""
    picture = (image.clamp(0, 1) * 255).to(torch.uint8).cpu()
    if len(labels) == 0:
        return picture
    palette = _palette(num_classes + 1)
    colors = [palette[int(label)] for label in labels]
    if masks is not None:
        picture = draw_segmentation_masks(picture, masks, alpha=0.45, colors=colors)
    return draw_bounding_boxes(picture, boxes.cpu(), labels=captions, colors=colors, width=2)


def _palette(count: int) -> list[tuple[int, int, int]]:
    """Distinct, saturated colours (golden-angle hues)."""
    colours = []
    for index in range(count):
        hue = (index * 0.618033988749895) % 1.0
        colours.append(tuple(int(255 * c) for c in _hsv_to_rgb(hue, 0.85, 1.0)))
    return colours


def _hsv_to_rgb(hue: float, saturation: float, value: float) -> tuple[float, float, float]:
    sector = int(hue * 6) % 6
    fraction = hue * 6 - int(hue * 6)
    p, q, t = value * (1 - saturation), value * (1 - fraction * saturation), value * (1 - (1 - fraction) * saturation)
    return [(value, t, p), (q, value, p), (p, value, t), (p, q, value), (t, p, value), (value, p, q)][sector]
