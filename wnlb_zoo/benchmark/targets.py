"""The speed targets of the performance issue, checked against measured Mask R-CNN training rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SpeedTarget:
    """``detector`` must train at least ``minimum`` x as many images per second as ``reference``."""

    detector: str
    reference: str
    minimum: float


SPEED_TARGETS: tuple[SpeedTarget, ...] = (
    SpeedTarget("resnet50", "torchvision_resnet50", 0.95),
    SpeedTarget("wnlb_resnet50", "resnet50", 0.60),
    SpeedTarget("wnlb_resnet50_kv2", "resnet50", 0.85),
    SpeedTarget("wnlb_resnet50_s234", "resnet50", 0.85),
    SpeedTarget("wnlb_resnet50_keys16", "resnet50", 0.85),
    SpeedTarget("wnlb_resnet50_keys32", "resnet50", 0.85),
)


def check_targets(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ratios of training img/s for every target whose two detectors were both measured."""
    rates = {
        record["detector"]: record["images_per_s"]
        for record in records
        if record.get("part") == "detection" and record.get("phase") == "train" and record.get("images_per_s")
    }
    results = []
    for target in SPEED_TARGETS:
        if target.detector in rates and target.reference in rates:
            ratio = rates[target.detector] / rates[target.reference]
            results.append(
                {
                    "detector": target.detector,
                    "reference": target.reference,
                    "ratio": round(ratio, 3),
                    "minimum": target.minimum,
                    "met": ratio >= target.minimum,
                }
            )
    return results
