"""Export a wNLB backbone into the timm hub layout, with its model card and manifest record.

The folder written is what ``timm.create_model('local-dir:DIR')`` reads and what the hub repo
holds (``hf-hub:ORG/NAME``):

* ``model.safetensors``: the classifier-form model's state dict;
* ``config.json``: ``architecture``, ``num_classes``, ``num_features``, ``model_args`` (the
  kwargs that rebuild the model) and ``pretrained_cfg``, written by timm's ``save_for_hf``;
* ``README.md``: the model card (:mod:`wnlb_zoo.weights.model_card`);
* ``<architecture>.<tag>.json``: the manifest record, with the sha256 and size of
  ``model.safetensors``, when a tag is given (copy it into ``weights_manifest/`` to publish).

Sources: a model in memory (:func:`export_model`), or a state dict (:func:`export_state_dict`),
e.g. from :func:`~wnlb_zoo.weights.state_dict_file.load_state_dict_file`, which reads a safetensors
or torch file and can pick a nested entry and strip a key prefix (``key="model",
prefix="backbone.body."`` for a backbone inside a detector checkpoint). Detector exports build on
these: they map the detector's backbone keys back onto the classifier-form model (a
``features_only`` wrapper renames some modules, e.g. ConvNeXt's ``stages_0``) and hand that model
to :func:`export_model`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import timm
import torch
from timm.models import FeatureInfo, save_for_hf
from torch import nn

from .integrity import sha256_file
from .manifest import write_record
from .model_card import CardFacts, WeightInfo, render_model_card
from .record_schema import parse_record
from .records import MANIFEST_VERSION, WeightRecord
from .resolve import WEIGHTS_FILENAME
from .state_dict_keys import fill_step_counters, key_mismatch
from .timm_cfg import PAPER_ID

_PLACEHOLDER_SHA256 = "0" * 64


@dataclass(frozen=True)
class ExportedWeights:
    """The files an export wrote; ``record``/``record_path`` are None when no tag was given."""

    directory: Path
    weights: Path
    config: Path
    card: Path
    record: WeightRecord | None
    record_path: Path | None


def export_model(
    model: nn.Module,
    out_dir: str | os.PathLike,
    info: WeightInfo | None = None,
    model_args: Mapping[str, Any] | None = None,
) -> ExportedWeights:
    """Write ``model`` (a timm-built wNLB model, classifier form) to ``out_dir`` in the hub layout.

    Args:
        model: A model from ``timm.create_model(...)`` without ``features_only`` (the feature
            wrappers drop and rename modules; the classifier-form weights serve ``features_only``).
        out_dir: A new or empty directory.
        info: Card and manifest facts; a tag makes the export write a manifest record.
        model_args: Explicit rebuild kwargs, added to those timm recorded when it built the model.
    """
    info = info or WeightInfo()
    architecture = _architecture(model)
    out = _empty_directory(out_dir)
    date = info.date or datetime.date.today().isoformat()
    if info.tag is not None:  # fail on an incomplete record before writing anything
        _record(info, architecture, date, {}, {}, _PLACEHOLDER_SHA256, 1, out)

    save_for_hf(
        model,
        str(out),
        model_config={"pretrained_cfg": _pretrained_cfg_overrides(info)},
        model_args=dict(model_args or {}),
        safe_serialization=True,
    )
    weights, config_path = out / WEIGHTS_FILENAME, out / "config.json"
    config = _drop_null_cfg_values(config_path)
    _check_rebuilds(config, weights)

    sha256, size = sha256_file(weights), weights.stat().st_size
    record = record_path = None
    if info.tag is not None:
        cfg = {key: value for key, value in config["pretrained_cfg"].items() if key != "tag"}
        record = _record(info, architecture, date, config.get("model_args", {}), cfg, sha256, size, out)
        record_path = write_record(record, out)

    facts = CardFacts(
        architecture=architecture,
        model_args=config.get("model_args", {}),
        num_params=sum(parameter.numel() for parameter in model.parameters()),
        out_indices=tuple(range(len(model.feature_info)))[-4:],
        sha256=sha256,
        size=size,
        info=dataclasses.replace(info, date=date),
    )
    card = out / "README.md"
    card.write_text(render_model_card(facts), encoding="utf-8")
    return ExportedWeights(out, weights, config_path, card, record, record_path)


def export_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    architecture: str,
    out_dir: str | os.PathLike,
    info: WeightInfo | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
) -> ExportedWeights:
    """Build ``architecture`` with ``model_kwargs``, load ``state_dict`` strictly and export it.

    ``num_classes`` defaults to the classifier size found in the state dict, or 0 (no classifier)
    when it holds none, as for a backbone taken out of a detector.
    """
    kwargs = dict(model_kwargs or {})
    if not timm.is_model(architecture):
        raise ValueError(f"Unknown architecture '{architecture}': see timm.list_models('wnlb_*').")
    classifier = timm.models.get_pretrained_cfg_value(architecture, "classifier")
    head = state_dict.get(f"{classifier}.weight") if classifier else None
    kwargs.setdefault("num_classes", 0 if head is None else head.shape[0])
    model = timm.create_model(architecture, pretrained=False, **kwargs)
    expected = model.state_dict()
    state_dict = fill_step_counters(state_dict, expected)
    mismatch = key_mismatch(state_dict.keys(), expected.keys())
    if mismatch:
        raise ValueError(
            f"The state dict does not match {architecture} {kwargs}: {mismatch}. Pass the model kwargs it was "
            "trained with (--model-kwargs), or the nested key / key prefix of the backbone in a training checkpoint."
        )
    model.load_state_dict(state_dict, strict=True)
    return export_model(model, out_dir, info=info, model_args=kwargs)


def _architecture(model: nn.Module) -> str:
    # every timm feature wrapper (FeatureListNet, FeatureHookNet, ...) carries a FeatureInfo object
    if isinstance(getattr(model, "feature_info", None), FeatureInfo):
        raise TypeError(
            f"Cannot export a {type(model).__name__}: it is a features_only wrapper, which drops the head and "
            "may rename modules. Export the classifier-form model (timm.create_model(name) without "
            "features_only=True, same weights); the exported weights load with features_only=True."
        )
    architecture = (getattr(model, "pretrained_cfg", None) or {}).get("architecture")
    if not architecture or not timm.is_model(architecture):
        raise TypeError(
            f"Cannot export a {type(model).__name__} that timm did not build: create it with timm.create_model "
            "(after import wnlb_zoo) so that its architecture and model args are known."
        )
    return architecture


def _empty_directory(out_dir: str | os.PathLike) -> Path:
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"Export directory {out} exists and is not empty: choose a new or empty directory.")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _pretrained_cfg_overrides(info: WeightInfo) -> dict[str, Any]:
    """pretrained_cfg entries that describe this weight rather than the base weights it started from."""
    return {
        "tag": info.tag,
        "license": info.license,
        "paper_ids": PAPER_ID,
        "paper_name": "Multi-Scale Denoising in the Feature Space for Low-Light Instance Segmentation",
        "origin_url": f"https://huggingface.co/{info.repo_id}" if info.repo_id else None,
        "notes": (info.notes,) if info.notes else None,
        "description": None,
    }


def _drop_null_cfg_values(config_path: Path) -> dict[str, Any]:
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["pretrained_cfg"] = {key: value for key, value in config["pretrained_cfg"].items() if value is not None}
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return config


def _check_rebuilds(config: dict[str, Any], weights: Path) -> None:
    """The written model_args must rebuild a model whose state dict has exactly the saved keys and shapes."""
    skeleton = timm.create_model(config["architecture"], device="meta", **config.get("model_args", {}))
    expected = {key: tuple(value.shape) for key, value in skeleton.state_dict().items()}
    with safetensors.safe_open(weights, framework="pt") as saved:
        written = {key: tuple(saved.get_slice(key).get_shape()) for key in saved.keys()}
    if written != expected:
        differing = sorted(set(written.items()) ^ set(expected.items()))[:5]
        raise RuntimeError(
            f"config.json model_args {config.get('model_args')} do not rebuild the exported model "
            f"(differences: {differing}). Pass the kwargs the model was built with as model_args."
        )


def _record(
    info: WeightInfo,
    architecture: str,
    date: str,
    model_kwargs: dict[str, Any],
    pretrained_cfg: dict[str, Any],
    sha256: str,
    size: int,
    out: Path,
) -> WeightRecord:
    data = {
        "manifest_version": MANIFEST_VERSION,
        "architecture": architecture,
        "tag": info.tag,
        "repo_id": info.repo_id,
        "filename": WEIGHTS_FILENAME,
        "sha256": sha256,
        "size": size,
        "format": "safetensors",
        "model_kwargs": model_kwargs,
        "pretrained_cfg": pretrained_cfg,
        "base_weights": info.base_weights,
        "training_data": list(info.training_data),
        "recipe": info.recipe,
        "metrics": [dataclasses.asdict(evaluation) for evaluation in info.metrics],
        "license": info.license,
        "date": date,
        "notes": info.notes,
    }
    return parse_record(data, out / f"{architecture}.{info.tag}.json")
