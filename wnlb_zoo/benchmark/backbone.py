"""Benchmark of feature extraction: each wNLB backbone against the timm model it extends."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import timm
import torch

from .measurement import measure, release_memory
from .precision import autocast

WNLB_PREFIX = "wnlb_"


def base_model_name(name: str) -> str:
    """The plain timm model a wNLB variant is built on (``wnlb_resnet50`` -> ``resnet50``)."""
    if not name.startswith(WNLB_PREFIX):
        raise ValueError(f"{name!r} is not a wNLB model (its name does not start with {WNLB_PREFIX!r}).")
    return name[len(WNLB_PREFIX) :]


def run_backbone_benchmark(
    device: torch.device,
    models: Sequence[str],
    image_size: tuple[int, int],
    batch: int,
    dtypes: Sequence[str],
    warmup: int = 2,
    repeats: int = 5,
    channels_last: bool = False,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Inference-mode ``features_only`` forward of each wNLB model in ``models`` and of its base.

    Returns one record per (model, dtype) with images per second and peak memory.
    """
    images = torch.rand(batch, 3, *image_size, device=device)
    if channels_last:
        images = images.to(memory_format=torch.channels_last)
    records = []
    for wnlb_name in models:
        for name in (base_model_name(wnlb_name), wnlb_name):
            torch.manual_seed(0)
            model = timm.create_model(name, features_only=True).to(device).eval()
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
            for dtype in dtypes:

                def step(model: torch.nn.Module = model, dtype: str = dtype) -> None:
                    with torch.inference_mode(), autocast(device, dtype):
                        model(images)

                result = measure(step, device, warmup, repeats)
                record = {
                    "part": "backbone",
                    "model": name,
                    "variant_of": wnlb_name,
                    "input_size": f"{image_size[0]}x{image_size[1]}",
                    "batch": batch,
                    "dtype": dtype,
                    "channels_last": channels_last,
                    "images_per_s": result.images_per_s(batch),
                    **result.as_dict(),
                }
                records.append(record)
                if on_record is not None:
                    on_record(record)
            del model
            release_memory(device)
    return records
