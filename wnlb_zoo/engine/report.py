"""Plain-text tables of a run's results, for the terminal."""

from __future__ import annotations

from typing import Any

from .evaluation import SUMMARY_NAMES


def format_ap_table(metrics: dict[str, Any]) -> str:
    """Box and mask AP summaries, then per-class AP, as an aligned text table (AP in %)."""
    header = f"{'':<6}" + "".join(f"{name:>7}" for name in SUMMARY_NAMES)
    rows = [header]
    for iou_type, label in (("bbox", "box"), ("segm", "mask")):
        if iou_type in metrics:
            rows.append(f"{label:<6}" + "".join(f"{100 * metrics[iou_type][name]:>7.1f}" for name in SUMMARY_NAMES))
    per_class = metrics.get("bbox", {}).get("per_class", {})
    if per_class:
        width = max(len(name) for name in per_class)
        rows.append("")
        rows.append(f"{'class':<{width}}  {'box AP':>7}  {'mask AP':>7}")
        masks = metrics.get("segm", {}).get("per_class", {})
        for name, box_ap in per_class.items():
            rows.append(f"{name:<{width}}  {100 * box_ap:>7.1f}  {100 * masks.get(name, 0.0):>7.1f}")
    return "\n".join(rows)


def print_ap_table(metrics: dict[str, Any], title: str) -> None:
    count = metrics.get("num_images")
    print(f"\n{title}" + (f" ({count} images)" if count is not None else ""))
    print(format_ap_table(metrics))


def print_epoch_summary(records: list[dict[str, Any]]) -> None:
    """One line per epoch: loss, box/mask AP, throughput and peak memory."""
    print(f"\n{'epoch':>5} {'loss':>8} {'box AP':>7} {'mask AP':>7} {'img/s':>7} {'peak MiB':>9}")
    for record in records:
        train = record["train"]
        loss, rate, memory = (
            (f"{train['loss']:>8.4f}", f"{train['img_per_s']:>7.2f}", f"{train['peak_memory_mib']:>9.0f}")
            if train
            else (f"{'-':>8}", f"{'-':>7}", f"{'-':>9}")
        )
        box, mask = 100 * record["bbox"]["AP"], 100 * record["segm"]["AP"]
        print(f"{record['epoch']:>5} {loss} {box:>7.1f} {mask:>7.1f} {rate} {memory}")
