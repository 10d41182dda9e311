"""Freezing a pretrained backbone the way torchvision's detection builders do, wNLB-aware.

torchvision freezes the first stages of a pretrained ResNet and replaces its BatchNorm with
FrozenBatchNorm2d (detection batches are too small for batch statistics). Both must spare the
weighted non-local blocks: their parameters are new (a frozen wNLB stays the identity), and
their BatchNorm must learn. ``timm.layers.freeze_batch_norm_2d`` applied to the whole network
would freeze those too, so it is applied norm by norm outside the blocks.
"""

from __future__ import annotations

from collections.abc import Sequence

from timm.layers import freeze_batch_norm_2d
from torch import nn

from ..layers import WeightedNonLocalBlock
from ..models.feature_names import flattened_name

#: Groups of (stem, stage 1..4) that train by default: torchvision's 3 for a backbone that starts
#: from trained weights, all 5 for one trained from scratch (nothing there is worth keeping fixed).
TRAINED_START_LAYERS = 3
ALL_LAYERS = 5


def freezing_defaults(
    starts_trained: bool, trainable_layers: int | None = None, frozen_batch_norm: bool | None = None
) -> tuple[int, bool]:
    """``(trainable_layers, frozen_batch_norm)``, each as given or torchvision's default for the start.

    A backbone that starts from trained weights (ImageNet, or a trained detector's) trains its last
    3 groups with the base network's BatchNorm frozen; one trained from scratch trains everything
    with live BatchNorm. The one place these defaults are decided (builders, fine-tuning).
    """
    if trainable_layers is None:
        trainable_layers = TRAINED_START_LAYERS if starts_trained else ALL_LAYERS
    if not 0 <= trainable_layers <= ALL_LAYERS:
        raise ValueError(f"trainable_layers must be between 0 and 5 (stem + 4 stages), got {trainable_layers}.")
    return trainable_layers, starts_trained if frozen_batch_norm is None else frozen_batch_norm


def freeze_stages(body: nn.Module, stage_modules: Sequence[str], trainable_layers: int) -> None:
    """Stop gradients in all but the last ``trainable_layers`` of (stem, stage 1, ..., stage 4).

    Groups follow the order in which the body registers its parameters (the order it runs them in):
    the stem is everything before stage 1's first parameter, group k runs from stage k's first
    parameter to just before stage k+1's. Modules between two feature stages (e.g. EfficientNet's
    unreported blocks) go with the stage before them.

    Args:
        body: A timm feature extractor.
        stage_modules: Feature-info module names of the four stages, shallowest first (``'layer1'``,
            ``'stages.0'``; timm's ``features_only`` wrappers may hold them as ``'stages_0'``).
        trainable_layers: 0..5; 5 trains everything, 3 (torchvision's default) freezes the stem and stage 1.
    """
    parameters = list(body.parameters())
    position = {id(parameter): index for index, parameter in enumerate(parameters)}
    starts = []
    for name in stage_modules:
        stage_parameters = list(_stage_module(body, name).parameters())
        if not stage_parameters:
            raise ValueError(f"Stage module {name!r} of {type(body).__name__} has no parameters to train or freeze.")
        starts.append(min(position[id(parameter)] for parameter in stage_parameters))
    frozen_groups = len(stage_modules) + 1 - trainable_layers
    wnlb = {id(p) for m in body.modules() if isinstance(m, WeightedNonLocalBlock) for p in m.parameters()}
    for index, parameter in enumerate(parameters):
        group = sum(start <= index for start in starts)
        if group < frozen_groups and id(parameter) not in wnlb:
            parameter.requires_grad_(False)


def _stage_module(body: nn.Module, name: str) -> nn.Module:
    """The module feature info calls ``name``, also where a features_only wrapper flattened it to ``a_b``."""
    for candidate in (name, flattened_name(name)):
        try:
            return body.get_submodule(candidate)
        except AttributeError:
            continue
    raise ValueError(f"Cannot find the stage module {name!r} in {type(body).__name__}: the stages cannot be frozen.")


def freeze_base_batch_norm(module: nn.Module) -> nn.Module:
    """Freeze every BatchNorm outside the wNLB blocks with timm's own conversion, in place; return ``module``.

    :func:`timm.layers.freeze_batch_norm_2d` turns ``BatchNorm2d`` and ``SyncBatchNorm`` into
    torchvision's ``FrozenBatchNorm2d``, and timm's ``BatchNormAct2d`` / ``SyncBatchNormAct`` (EfficientNet,
    MobileNetV3, RegNet, ...) into ``FrozenBatchNormAct2d``, which keeps the activation and drop
    layer fused into the norm. It is applied to each norm of the base network, never to a wNLB.
    A frozen norm computes what the live one computes in eval mode, in the live one's dtype and on its
    device (``affine=False`` included). Norms without running statistics (``track_running_stats=False``)
    always normalise with batch statistics and are left as they are: there is nothing to freeze.
    """
    for name, child in module.named_children():
        if isinstance(child, WeightedNonLocalBlock):
            continue
        if isinstance(child, (nn.BatchNorm2d, nn.SyncBatchNorm)):
            if child.running_mean is not None:
                # timm copies the statistics and affine parameters; the fixed weight and bias of a
                # non-affine norm are new buffers, made on the default device and dtype.
                setattr(module, name, freeze_batch_norm_2d(child).to(child.running_mean))
        else:
            freeze_base_batch_norm(child)
    return module
