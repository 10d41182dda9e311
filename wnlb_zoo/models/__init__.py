"""wNLB backbones, registered with timm when this package is imported."""

from ._checkpoint import CheckpointMismatchError, fill_wnlb_keys, wnlb_state_keys
from ._stages import STAGE_NUMBERS, STAGE_STRIDES, WnlbStagesMixin
from .model_names import UnknownPretrainedTagError, check_model_name
from .wnlb_convnext import WnlbConvNeXt
from .wnlb_resnet import WnlbResNet

__all__ = [
    "STAGE_NUMBERS",
    "STAGE_STRIDES",
    "CheckpointMismatchError",
    "UnknownPretrainedTagError",
    "WnlbConvNeXt",
    "WnlbResNet",
    "WnlbStagesMixin",
    "check_model_name",
    "fill_wnlb_keys",
    "wnlb_state_keys",
]
