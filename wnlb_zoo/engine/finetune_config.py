"""What a fine-tuning run depends on (:class:`FinetuneConfig`), its checks, and its JSON form.

The JSON form (:func:`config_to_json`, :func:`config_from_json`) is the one every run folder holds:
``args.json``, each checkpoint's ``run_config.json`` and ``training_state.pt``'s ``config``, and a
comparison cell's ``cell.json``. Tuples are written as lists and read back as tuples; an option
missing from a recorded configuration (added to the engine since) takes its default.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from ..detection import check_detector_kwargs
from ..models import check_model_name
from .data_sources import DataSettings

#: ``--lr`` is given for this many images per optimiser step and scaled linearly to the real batch.
REFERENCE_BATCH = 16
DEFAULT_LR = {"sgd": 0.02, "adamw": 2e-4}
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class FinetuneConfig:
    """Everything a fine-tuning run depends on (the ``wnlb-zoo finetune`` options)."""

    data: DataSettings = field(default_factory=DataSettings)
    backbone: str = "wnlb_resnet18"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    detector_kwargs: dict[str, Any] = field(default_factory=dict)
    pretrained: bool = False
    weights: str | None = None
    min_size: int = 800
    max_size: int = 1333
    interpolation: str = "bilinear"
    trainable_backbone_layers: int | None = None
    epochs: int = 12
    batch_size: int = 2
    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_iters: int = 100
    lr_steps: tuple[int, ...] = ()
    lr_gamma: float = 0.1
    grad_accum: int = 1
    clip_grad: float | None = None
    amp: str | None = None
    device: str | None = None
    workers: int = 2
    seed: int = 0
    sync_bn: bool = False
    channels_last: bool = False
    output: str = "runs/finetune"
    resume: str | None = None
    eval_batch_size: int = 2
    eval_at_start: bool = False
    export: bool = True

    def effective_lr(self, world_size: int) -> float:
        """The learning rate used: ``lr`` (per REFERENCE_BATCH images) scaled to the real batch."""
        base = self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]
        return base * self.batch_size * world_size * self.grad_accum / REFERENCE_BATCH


def check_config(config: FinetuneConfig) -> None:
    """Refuse impossible options, and an unknown backbone, before any data is read.

    Raises:
        ValueError: Naming the option as on the command line.
    """
    if config.optimizer not in DEFAULT_LR:
        raise ValueError(f"--optimizer must be one of {tuple(DEFAULT_LR)}, got {config.optimizer!r}.")
    if config.amp is not None and config.amp not in AMP_DTYPES:
        raise ValueError(f"--amp must be one of {tuple(AMP_DTYPES)}, got {config.amp!r}.")
    for name in ("epochs", "batch_size", "grad_accum"):
        if getattr(config, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(config, name)}.")
    if config.lr is not None and not (math.isfinite(config.lr) and config.lr > 0):
        raise ValueError(f"--lr must be a positive number, got {config.lr}.")
    check_model_name(config.backbone)  # before any data is read: a typo costs seconds, not a data set scan
    check_detector_kwargs(config.detector_kwargs)


def config_to_json(config: FinetuneConfig) -> dict[str, Any]:
    """``config`` as plain JSON values (tuples become lists), as run folders record it."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=list))


def config_from_json(values: dict[str, Any]) -> FinetuneConfig:
    """The inverse of :func:`config_to_json`; options missing from ``values`` take their defaults.

    Raises:
        TypeError: ``values`` names an option :class:`FinetuneConfig` does not have.
    """
    values = dict(values)
    data = _with_tuples(DataSettings, values.pop("data", {}))
    return FinetuneConfig(data=DataSettings(**data), **_with_tuples(FinetuneConfig, values))


def _with_tuples(settings: type, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the lists JSON made of ``settings``' tuple fields turned back into tuples."""
    tuple_fields = {item.name for item in dataclasses.fields(settings) if str(item.type).startswith("tuple")}
    return {name: tuple(value) if name in tuple_fields else value for name, value in values.items()}
