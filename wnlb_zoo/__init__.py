"""wnlb-zoo: weighted non-local (wNLB) backbones for low-light detection and segmentation.

Importing the package registers its models with timm::

    import timm
    import wnlb_zoo  # noqa: F401

    backbone = timm.create_model("wnlb_resnet50", features_only=True, out_indices=(1, 2, 3, 4))
"""

from importlib.metadata import PackageNotFoundError, version

from . import models  # noqa: F401  (registers the timm models)
from .layers import WeightedNonLocalBlock
from .models import WnlbConvNeXt, WnlbResNet

try:
    __version__ = version("wnlb-zoo")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["WeightedNonLocalBlock", "WnlbConvNeXt", "WnlbResNet", "__version__"]
