"""Detection on wNLB (or any timm) backbones: FPN wrapper and torchvision builders."""

from .builders import (
    DetectorWeightsError,
    check_detector_kwargs,
    detector_kwarg_names,
    fasterrcnn,
    load_detector_weights,
    maskrcnn,
)
from .feature_pyramid import PYRAMID_STRIDES, TimmFeaturePyramid, timm_feature_pyramid
from .freezing import freeze_base_batch_norm, freeze_stages, freezing_defaults
from .transform import DetectionTransform

__all__ = [
    "PYRAMID_STRIDES",
    "DetectionTransform",
    "DetectorWeightsError",
    "TimmFeaturePyramid",
    "check_detector_kwargs",
    "detector_kwarg_names",
    "fasterrcnn",
    "freeze_base_batch_norm",
    "freeze_stages",
    "freezing_defaults",
    "load_detector_weights",
    "maskrcnn",
    "timm_feature_pyramid",
]
