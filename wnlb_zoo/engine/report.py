"""Plain-text tables of a run's results, for the terminal."""

from __future__ import annotations

from typing import Any

from .evaluation import SUMMARY_NAMES


def percent(value: float | None, width: int = 7) -> str:
    """An AP in % right-aligned in ``width`` characters; '-' where nothing was measured."""
    return f"{'-':>{width}}" if value is None else f"{100 * value:>{width}.1f}"


def format_ap_table(metrics: dict[str, Any]) -> str:
    """Box and mask AP summaries, then per-class AP, as an aligned text table (AP in %)."""
    header = f"{'':<6}" + "".join(f"{name:>7}" for name in SUMMARY_NAMES)
    rows = [header]
    for iou_type, label in (("bbox", "box"), ("segm", "mask")):
        if iou_type in metrics:
            rows.append(f"{label:<6}" + "".join(percent(metrics[iou_type][name]) for name in SUMMARY_NAMES))
    per_class = metrics.get("bbox", {}).get("per_class", {})
    if per_class:
        width = max(len(name) for name in per_class)
        rows.append("")
        rows.append(f"{'class':<{width}}  {'box AP':>7}  {'mask AP':>7}")
        masks = metrics.get("segm", {}).get("per_class", {})
        for name, box_ap in per_class.items():
            rows.append(f"{name:<{width}}  {percent(box_ap)}  {percent(masks.get(name))}")
    return "\n".join(rows)


def ap_table_text(metrics: dict[str, Any], title: str) -> str:
    """:func:`format_ap_table` under a blank line and ``title`` (with the number of images measured)."""
    count = metrics.get("num_images")
    return f"\n{title}" + (f" ({count} images)" if count is not None else "") + "\n" + format_ap_table(metrics)


def epoch_summary_text(records: list[dict[str, Any]]) -> str:
    """One line per epoch under a blank line and a header: loss, box/mask AP, throughput and peak memory."""
    lines = [f"\n{'epoch':>5} {'loss':>8} {'box AP':>7} {'mask AP':>7} {'img/s':>7} {'peak MiB':>9}"]
    for record in records:
        train = record["train"]
        loss, rate, memory = (
            (f"{train['loss']:>8.4f}", f"{train['img_per_s']:>7.2f}", f"{train['peak_memory_mib']:>9.0f}")
            if train
            else (f"{'-':>8}", f"{'-':>7}", f"{'-':>9}")
        )
        box, mask = percent(record["bbox"]["AP"]), percent(record.get("segm", {}).get("AP"))
        lines.append(f"{record['epoch']:>5} {loss} {box} {mask} {rate} {memory}")
    return "\n".join(lines)
