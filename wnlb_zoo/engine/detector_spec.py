"""What it takes to rebuild a trained detector: saved beside every checkpoint as ``detector.json``."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torchvision.models.detection import MaskRCNN

from ..detection import maskrcnn
from ..detection.builders import SPEC_FILENAME


@dataclass(frozen=True)
class DetectorSpec:
    """The Mask R-CNN configuration of a training run, and its classes.

    Attributes:
        backbone: timm model name of the backbone.
        num_classes: Classes including the background (label 0).
        class_names: Names of labels 1..num_classes-1.
        label_to_category_id: Category id written to COCO results for each label.
        backbone_kwargs: timm kwargs of the backbone (``wnlb_stages``, ...).
        detector_kwargs: torchvision MaskRCNN kwargs (RPN / RoI head sizes, ...).
        min_size, max_size, interpolation: The detector's resizing.
        trainable_backbone_layers: Trainable groups of (stem, stage 1..4), as resolved for the run.
        frozen_batch_norm: Whether the base network's BatchNorm is frozen (runs that start from
            trained weights), so that a rebuilt model has the same modules and state-dict keys.
    """

    backbone: str
    num_classes: int
    class_names: tuple[str, ...]
    label_to_category_id: dict[int, int]
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    detector_kwargs: dict[str, Any] = field(default_factory=dict)
    min_size: int = 800
    max_size: int = 1333
    interpolation: str = "bilinear"
    trainable_backbone_layers: int = 5
    frozen_batch_norm: bool = False

    def build(self, backbone_pretrained: bool = False) -> MaskRCNN:
        """A Mask R-CNN of this configuration; ``backbone_pretrained`` loads the backbone's own weights."""
        return maskrcnn(
            self.backbone,
            num_classes=self.num_classes,
            backbone_pretrained=backbone_pretrained,
            trainable_backbone_layers=self.trainable_backbone_layers,
            frozen_batch_norm=self.frozen_batch_norm,
            min_size=self.min_size,
            max_size=self.max_size,
            interpolation=self.interpolation,
            backbone_kwargs=dict(self.backbone_kwargs),
            **self.detector_kwargs,
        )

    def save(self, directory: str | os.PathLike) -> Path:
        path = Path(directory) / SPEC_FILENAME
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike) -> DetectorSpec:
        path = Path(directory) / SPEC_FILENAME
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: {directory} is not a wnlb-zoo training checkpoint.")
        try:
            data = json.loads(path.read_text())
            data["class_names"] = tuple(data["class_names"])
            data["label_to_category_id"] = {int(k): int(v) for k, v in data["label_to_category_id"].items()}
            return cls(**data)
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path} is not a valid detector spec ({error}).") from error
