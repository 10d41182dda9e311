"""torchvision Mask R-CNN / Faster R-CNN on any timm backbone, torchvision builder style.

::

    from wnlb_zoo.detection import maskrcnn

    model = maskrcnn("wnlb_resnet50", num_classes=9, backbone_pretrained=True)

Images go in as float tensors in [0, 1]; they are normalised with the backbone's own
``pretrained_cfg`` mean/std (timm models are not all trained with ImageNet statistics).
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

from timm.models import parse_model_name, split_model_name_tag
from torch import nn
from torchvision.models.detection import FasterRCNN, MaskRCNN

from ..weights.state_dict_file import StateDictFileError, load_state_dict_file
from .feature_pyramid import timm_feature_pyramid
from .freezing import freezing_defaults
from .transform import DetectionTransform, ResizeInterpolation


def maskrcnn(
    backbone: str = "wnlb_resnet50",
    *,
    num_classes: int | None = None,
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
            (``wnlb_resnet50``, ``wnlb_convnext_tiny``, ...), a plain baseline (``resnet50``, ...), or
            an exported backbone (``local-dir:DIR``, ``hf-hub:ORG/NAME``).
        num_classes: Classes including the background. Default: the number recorded beside
            ``weights`` (see below), else 91 (COCO), as torchvision's builders.
        weights: A trained detector (safetensors or torch state dict, e.g. written by
            ``wnlb-zoo finetune`` or ``wnlb-zoo weights export``), loaded strictly after the model is
            built. Like torchvision's ``weights``, it makes the defaults those of fine-tuning a trained
            detector: 3 trainable backbone layers and frozen BatchNorm. A ``detector.json`` beside the
            file (what those commands write) supplies ``num_classes`` and whether the BatchNorm was
            frozen; an argument that contradicts it, or another ``backbone``, is refused.
        backbone_pretrained: Start the backbone from its default pretrained weights (offline-first
            resolution, see :mod:`wnlb_zoo.weights`). Ignored when ``weights`` is given.
        trainable_backbone_layers: Trainable groups of (stem, stage 1..4), counted from the deepest;
            default 3 when the backbone is pretrained or ``weights`` are given, else 5. wNLB blocks
            always train.
        frozen_batch_norm: Freeze the base network's BatchNorm (never the wNLBs' own, see
            :func:`~wnlb_zoo.detection.freeze_base_batch_norm`); default: when the backbone is
            pretrained or ``weights`` are given, as torchvision does (or as ``detector.json`` records).
        min_size: Shorter image side after resizing (a tuple picks one at random per batch in training).
        max_size: Upper bound of the longer side.
        interpolation: ``'bilinear'`` or ``'nearest'`` (the LIS protocol, keeps the noise intact).
        backbone_kwargs: Passed to ``timm.create_model`` (e.g. ``dict(wnlb_stages=(2, 3, 4))``).
        **kwargs: Passed to :class:`torchvision.models.detection.MaskRCNN` (RPN / RoI settings) and
            its transform (``image_mean``/``image_std``, which replace the backbone's, ``size_divisible``,
            ``fixed_size``); see :func:`detector_kwarg_names`. An unknown name is refused.
    """
    return _build(MaskRCNN, backbone, locals())


def fasterrcnn(
    backbone: str = "wnlb_resnet50",
    *,
    num_classes: int | None = None,
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


#: The record of a trained detector that ``wnlb-zoo finetune`` and ``weights export`` write beside
#: its weights (:class:`wnlb_zoo.engine.DetectorSpec`).
SPEC_FILENAME = "detector.json"
#: Settings of torchvision's :class:`GeneralizedRCNNTransform` that the detectors take in ``**kwargs``
#: besides the builders' own ``min_size`` / ``max_size``.
TRANSFORM_KWARGS = ("image_mean", "image_std", "size_divisible", "fixed_size")
#: Detector arguments the builders set themselves.
_BUILDER_SET = ("self", "backbone", "num_classes", "min_size", "max_size", "kwargs")


def detector_kwarg_names(detector_cls: type[FasterRCNN] = MaskRCNN) -> tuple[str, ...]:
    """The ``**kwargs`` names :func:`maskrcnn` (``MaskRCNN``) or :func:`fasterrcnn` (``FasterRCNN``) accept."""
    names = set(inspect.signature(detector_cls).parameters) - set(_BUILDER_SET)
    return tuple(sorted(names | set(TRANSFORM_KWARGS)))


def check_detector_kwargs(kwargs: dict[str, Any], detector_cls: type[FasterRCNN] = MaskRCNN) -> None:
    """Refuse names torchvision would silently ignore (it passes unknown ones on to its transform)."""
    accepted = detector_kwarg_names(detector_cls)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"Unknown detector argument(s) {', '.join(unknown)} for {detector_cls.__name__}; the accepted ones are "
            f"{', '.join(accepted)}."
        )


def _build(detector_cls: type[FasterRCNN], backbone: str, options: dict[str, Any]) -> FasterRCNN:
    """The one construction path of :func:`maskrcnn` and :func:`fasterrcnn` (``options``: their arguments)."""
    kwargs = dict(options["kwargs"])
    check_detector_kwargs(kwargs, detector_cls)
    weights = options["weights"]
    record = _weights_record(weights, backbone, options["num_classes"]) if weights is not None else {}
    trained = weights is not None or options["backbone_pretrained"]
    frozen_batch_norm = options["frozen_batch_norm"]
    if frozen_batch_norm is None:  # a trained detector's own setting: its weights were learnt with it
        frozen_batch_norm = record.get("frozen_batch_norm")
    trainable_layers, frozen_batch_norm = freezing_defaults(
        trained, options["trainable_backbone_layers"], frozen_batch_norm
    )
    backbone_kwargs = dict(options["backbone_kwargs"] or {})
    pyramid = timm_feature_pyramid(
        backbone,
        pretrained=options["backbone_pretrained"] and weights is None,
        trainable_layers=trainable_layers,
        frozen_batch_norm=frozen_batch_norm,
        **backbone_kwargs,
    )
    transform_kwargs = {key: kwargs.pop(key) for key in TRANSFORM_KWARGS if key in kwargs}
    for key in ("mean", "std"):
        backbone_values = _per_channel(pyramid.pretrained_cfg[key], backbone_kwargs.get("in_chans", 3))
        transform_kwargs.setdefault(f"image_{key}", backbone_values)
    num_classes = options["num_classes"]
    if num_classes is None:
        num_classes = record.get("num_classes", 91)
    model = detector_cls(pyramid, num_classes=num_classes, **kwargs)
    min_size = options["min_size"]
    model.transform = DetectionTransform(
        min_size if isinstance(min_size, tuple) else (min_size,),
        options["max_size"],
        interpolation=options["interpolation"],
        **transform_kwargs,
    )
    if weights is not None:
        load_detector_weights(model, weights)
    return model


def _weights_record(weights: str | os.PathLike, backbone: str, num_classes: int | None) -> dict[str, Any]:
    """The ``detector.json`` beside ``weights`` ({} when there is none), checked against the arguments."""
    path = Path(weights).parent / SPEC_FILENAME
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as error:
        raise DetectorWeightsError(
            f"Cannot read {path}, the record of the detector weights {weights}: {error}."
        ) from error
    if not isinstance(record, dict):
        raise DetectorWeightsError(
            f"{path}, the record of the detector weights {weights}, holds a JSON {type(record).__name__}, not an "
            "object: copy it again from the run's checkpoint or export."
        )
    if _architecture(record.get("backbone", backbone)) != _architecture(backbone):
        raise DetectorWeightsError(
            f"Detector weights {weights} were trained on the backbone {record['backbone']!r} ({path}), not "
            f"{backbone!r}: build the detector with backbone={record['backbone']!r}."
        )
    recorded = record.get("num_classes")
    if num_classes is not None and recorded is not None and num_classes != recorded:
        names = ", ".join(["background", *record.get("class_names", ())])
        raise DetectorWeightsError(
            f"Detector weights {weights} have {recorded} classes ({names}; {path}), not num_classes={num_classes}: "
            "leave num_classes out, or fine-tune the detector to new classes with wnlb-zoo finetune."
        )
    return record


def _architecture(name: str) -> str:
    """A backbone name without its pretrained tag (``wnlb_resnet18.tv_in1k`` -> ``wnlb_resnet18``)."""
    source, model_id = parse_model_name(name)
    return name if source else split_model_name_tag(model_id)[0]


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
    try:  # a state dict, or a training checkpoint as torchvision's references save it: {"model": ..., ...}
        state = load_state_dict_file(path, fallback_key="model")
    except StateDictFileError as error:
        raise DetectorWeightsError(f"Cannot read detector weights: {error}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise DetectorWeightsError(
            f"Detector weights {path} do not fit this model ({error}). Build it with the backbone, backbone_kwargs "
            "and num_classes the weights were trained with."
        ) from error
