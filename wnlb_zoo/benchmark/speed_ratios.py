"""Training speed of each detector relative to the same Mask R-CNN on the plain backbone, in one run.

Images per second depend on the machine, its load and the library versions; the ratio to a
detector measured in the same run does not, so it is what the benchmark reports across detectors
(and what ``docs/benchmarks.md`` compares with the project's goals; the package reports only
measurements).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The detector every training speed is divided by: the same Mask R-CNN on the plain backbone.
PLAIN_DETECTOR = "resnet50"


def training_speed_ratios(records: Sequence[dict[str, Any]], reference: str = PLAIN_DETECTOR) -> list[dict[str, Any]]:
    """One row per measured detector but ``reference``: its training img/s over ``reference``'s, in record order.

    Rows are ``{"detector", "label", "reference", "ratio"}``; detectors whose training did not run
    (out of memory, skipped) have none. Without a measurement of ``reference`` there are no rows.
    """
    trained = {
        record["detector"]: record
        for record in records
        if record.get("part") == "detection" and record.get("phase") == "train" and record.get("status") == "ok"
    }
    if reference not in trained:
        return []
    rate = trained[reference]["images_per_s"]
    return [
        {
            "detector": name,
            "label": record.get("label", name),
            "reference": reference,
            "ratio": round(record["images_per_s"] / rate, 3),
        }
        for name, record in trained.items()
        if name != reference
    ]
