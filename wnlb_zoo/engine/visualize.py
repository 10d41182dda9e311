"""Draw a detector's predictions on an image: masks, boxes, class names and scores."""

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
    picture = (image.clamp(0, 1) * 255).to(torch.uint8).cpu()
    if not keep.any():
        return picture
    labels = prediction["labels"][keep].cpu()
    palette = _palette(len(class_names) + 1)
    colors = [palette[int(label)] for label in labels]
    if "masks" in prediction:
        masks = prediction["masks"][keep][:, 0].cpu() > 0.5
        picture = draw_segmentation_masks(picture, masks, alpha=0.45, colors=colors)
    scores = prediction["scores"][keep].tolist()
    captions = [f"{class_names[int(label) - 1]} {score:.2f}" for label, score in zip(labels, scores, strict=True)]
    return draw_bounding_boxes(picture, prediction["boxes"][keep].cpu(), labels=captions, colors=colors, width=2)


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
