"""The manifest's record of one published weight (:class:`WeightRecord`) and its errors.

A record says where the file is (hub repo + filename), proves which file it is (sha256 + size),
how to rebuild the model (``model_kwargs``, timm ``pretrained_cfg``), where it came from (base
weights, training data, the exact training command) and what it scores (:class:`Evaluation`).
Records are read from and written to the manifest directory by :mod:`wnlb_zoo.weights.manifest`
and validated by :mod:`wnlb_zoo.weights.record_schema`; ``weights_manifest/README.md`` documents
the fields.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

MANIFEST_VERSION = 1


class ManifestError(ValueError):
    """A manifest record is missing, malformed or inconsistent; the message names the file and field."""


class ManifestWarning(UserWarning):
    """A manifest entry is invalid and ignored; the other records and every model still work."""


@dataclass(frozen=True)
class Evaluation:
    """Detection (and segmentation) AP of one detector built on the weight, on one dataset split.

    AP values are COCO-style percentages (0-100). Mask values are None for box-only detectors.
    """

    detector: str
    dataset: str
    split: str
    box_ap: float
    box_ap50: float
    box_ap75: float
    mask_ap: float | None = None
    mask_ap50: float | None = None
    mask_ap75: float | None = None


@dataclass(frozen=True)
class WeightRecord:
    """One published weight, as stored in ``<architecture>.<tag>.json``."""

    architecture: str
    tag: str
    repo_id: str
    filename: str
    sha256: str
    size: int
    format: str
    model_kwargs: dict[str, Any]
    pretrained_cfg: dict[str, Any]
    base_weights: str | None
    training_data: tuple[str, ...]
    recipe: str
    metrics: tuple[Evaluation, ...]
    license: str
    date: str
    notes: str = ""

    @property
    def name(self) -> str:
        """The timm model name with tag, ``architecture.tag``."""
        return f"{self.architecture}.{self.tag}"

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON object stored in the manifest."""
        data = dataclasses.asdict(self)
        data["training_data"] = list(self.training_data)
        data["metrics"] = [dataclasses.asdict(evaluation) for evaluation in self.metrics]
        return {"manifest_version": MANIFEST_VERSION, **data}
