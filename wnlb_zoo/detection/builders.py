"""torchvision Mask R-CNN / Faster R-CNN on any timm backbone, torchvision builder style.

::

    from wnlb_zoo.detection import maskrcnn

    model = maskrcnn("wnlb_resnet50", num_classes=9, backbone_pretrained=True)

Images go in as float tensors in [0, 1]; they are normalised with the backbone's own
``pretrained_cfg`` mean/std (timm models are not all trained with ImageNet statistics).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn
from torchvision.models.detection import FasterRCNN, MaskRCNN

from .feature_pyramid import timm_feature_pyramid
from .transform import DetectionTransform, ResizeInterpolation


def maskrcnn(
    backbone: str = "wnlb_resnet50",
    *,
    num_classes: int = 91,
    weights: str | os.PathLike | None = None,
    backbone_pretrained: bool = False,
    trainable_backbone_layers: int | None = None,
    frozen_batch_norm: bool | None = None,
    min_size: int | tuple[int, ...] = 800,
    max_size: int = 1333,
    interpolation: ResizeInterpolation = "bilinear",
    backbone_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> MaskRCNN:
    """Mask R-CNN with an FPN on the timm model ``backbone``.

    Args:
        backbone: Any timm model name with ``features_only`` support: a wNLB variant
            (``wnlb_resnet50``, ``wnlb_convnext_tiny``, ...) or a plain baseline (``resnet50``, ...).
        num_classes: Classes including the background.
        weights: A detector checkpoint (safetensors or torch state dict, e.g. written by
            ``wnlb-zoo finetune``), loaded strictly after the model is built.
        backbone_pretrained: Start the backbone from its default pretrained weights (offline-first
            resolution, see :mod:`wnlb_zoo.weights`). Ignored when ``weights`` is given.
        trainable_backbone_layers: Trainable groups of (stem, stage 1..4), counted from the deepest;
            default 3 when the backbone is pretrained, else 5. wNLB blocks always train.
        frozen_batch_norm: Replace the base network's BatchNorm by FrozenBatchNorm2d (never the
            wNLBs' own); default: when the backbone is pretrained, as torchvision does.
        min_size: Shorter image side after resizing (a tuple picks one at random per batch in training).
        max_size: Upper bound of the longer side.
        interpolation: ``'bilinear'`` or ``'nearest'`` (the LIS protocol, keeps the noise intact).
        backbone_kwargs: Passed to ``timm.create_model`` (e.g. ``dict(wnlb_stages=(2, 3, 4))``).
        **kwargs: Passed to :class:`torchvision.models.detection.MaskRCNN` (RPN / RoI settings).
    """
    return _build(MaskRCNN, backbone, locals())


def fasterrcnn(
    backbone: str = "wnlb_resnet50",
    *,
    num_classes: int = 91,
    weights: str | os.PathLike | None = None,
    backbone_pretrained: bool = False,
    trainable_backbone_layers: int | None = None,
    frozen_batch_norm: bool | None = None,
    min_size: int | tuple[int, ...] = 800,
    max_size: int = 1333,
    interpolation: ResizeInterpolation = "bilinear",
    backbone_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> FasterRCNN:
    """Faster R-CNN (boxes only) with an FPN on the timm model ``backbone``; arguments as :func:`maskrcnn`."""
    return _build(FasterRCNN, backbone, locals())


def _build(detector_cls: type[FasterRCNN], backbone: str, options: dict[str, Any]) -> FasterRCNN:
    """The one construction path of :func:`maskrcnn` and :func:`fasterrcnn` (``options``: their arguments)."""
    weights = options["weights"]
    pretrained = options["backbone_pretrained"] and weights is None
    backbone_kwargs = dict(options["backbone_kwargs"] or {})
    pyramid = timm_feature_pyramid(
        backbone,
        pretrained=pretrained,
        trainable_layers=options["trainable_backbone_layers"],
        frozen_batch_norm=options["frozen_batch_norm"],
        **backbone_kwargs,
    )
    channels = backbone_kwargs.get("in_chans", 3)
    mean, std = (_per_channel(pyramid.pretrained_cfg[key], channels) for key in ("mean", "std"))
    model = detector_cls(pyramid, num_classes=options["num_classes"], **options["kwargs"])
    min_size = options["min_size"]
    model.transform = DetectionTransform(
        min_size if isinstance(min_size, tuple) else (min_size,),
        options["max_size"],
        mean,
        std,
        interpolation=options["interpolation"],
    )
    if weights is not None:
        load_detector_weights(model, weights)
    return model


def _per_channel(values: tuple[float, ...], channels: int) -> list[float]:
    """The backbone's normalisation values for ``channels`` input channels (their mean when counts differ)."""
    values = list(values)
    return values if len(values) == channels else [sum(values) / len(values)] * channels


class DetectorWeightsError(RuntimeError):
    """Detector weights are missing, unreadable or do not fit the model."""


def load_detector_weights(model: nn.Module, path: str | os.PathLike) -> None:
    """Load a detector state dict (safetensors or torch file) strictly, with errors that name the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DetectorWeightsError(f"Detector weights {path} do not exist.")
    try:
        if path.endswith(".safetensors"):
            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = state.get("model", state)
    except Exception as error:
        message = f"Cannot read detector weights {path}: {error}. The file is corrupt or truncated."
        raise DetectorWeightsError(message) from error
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise DetectorWeightsError(
            f"Detector weights {path} do not fit this model ({error}). Build it with the backbone, backbone_kwargs "
            "and num_classes the weights were trained with."
        ) from error
