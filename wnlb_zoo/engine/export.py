"""Export a fine-tuning checkpoint: the backbone in the timm hub layout, and the whole detector.

Inside the detector the backbone is a timm ``features_only`` wrapper (keys ``backbone.body.*``;
ConvNeXt's stages appear as ``stages_0`` instead of ``stages.0``, and modules after the last
feature level are absent). The backbone export maps those keys back onto the classifier-form
model (``num_classes=0``) that ``timm.create_model(..., pretrained=True, features_only=True)``
expects; modules the detector never used (e.g. ConvNeXt's final ``head.norm``) keep their initial
values and are listed in the model card's notes.

Output::

    OUT/backbone/   model.safetensors, config.json, README.md (+ manifest record with a tag)
    OUT/detector/   model.safetensors, detector.json   (maskrcnn(..., weights=OUT/detector/model.safetensors))
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import timm
import torch

from ..models.feature_names import unflattened_names
from ..weights.export import WeightInfo, export_model
from ..weights.state_dict_file import load_state_dict_file
from ..weights.state_dict_keys import is_step_counter
from .checkpoint import WEIGHTS_FILE, resolve_checkpoint, verify_checkpoint
from .detector_spec import SPEC_FILENAME, DetectorSpec

BODY_PREFIX = "backbone.body."


def backbone_from_body_state(body: dict[str, torch.Tensor], spec: DetectorSpec) -> tuple[torch.nn.Module, list[str]]:
    """The classifier-form backbone holding the detector's backbone weights, and the keys left at init.

    ``body``: the detector's ``backbone.body.*`` keys with that prefix removed.
    """
    model = timm.create_model(spec.backbone, num_classes=0, **spec.backbone_kwargs)
    target = model.state_dict()
    mapped = {}
    for key, name in unflattened_names(body, target).items():
        if name is None:
            raise ValueError(f"Backbone key {key} has no counterpart in {spec.backbone} {spec.backbone_kwargs}.")
        mapped[name] = body[key]
    model.load_state_dict(mapped, strict=False)
    untouched = sorted(key for key in target.keys() - mapped.keys() if not is_step_counter(key))
    return model, untouched


def export_training_checkpoint(
    checkpoint: str | os.PathLike, out_dir: str | os.PathLike, info: WeightInfo | None = None
) -> Path:
    """Export a checkpoint written by ``wnlb-zoo finetune`` (a checkpoint dir, ``best``/``last``, or a run dir)."""
    source = resolve_checkpoint(checkpoint)
    verify_checkpoint(source, (WEIGHTS_FILE, SPEC_FILENAME))
    spec = DetectorSpec.load(source)
    body = load_state_dict_file(source / WEIGHTS_FILE, prefix=BODY_PREFIX)
    model, untouched = backbone_from_body_state(body, spec)
    info = info or WeightInfo()
    if untouched:
        note = f"Not trained in the detector (initial values): {', '.join(untouched)}."
        info = dataclasses.replace(info, notes=f"{info.notes} {note}".strip())
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"Export directory {out} exists and is not empty: choose a new or empty directory.")
    export_model(model, out / "backbone", info=info, model_args={"num_classes": 0, **spec.backbone_kwargs})
    detector = out / "detector"
    detector.mkdir(parents=True, exist_ok=False)
    shutil.copyfile(source / WEIGHTS_FILE, detector / WEIGHTS_FILE)
    spec.save(detector)
    return out


def replace_export(checkpoint: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Export ``checkpoint`` to ``out_dir``, replacing an earlier export only once the new one is complete."""
    out = Path(out_dir)
    staging = out.with_name(f".{out.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    export_training_checkpoint(checkpoint, staging)
    if out.exists():
        retired = out.with_name(f".{out.name}.retired-{os.getpid()}")
        os.replace(out, retired)
        os.replace(staging, out)
        shutil.rmtree(retired)
    else:
        os.replace(staging, out)
    return out
