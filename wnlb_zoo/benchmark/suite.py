"""The whole benchmark: its configuration, the order of its parts, and the result it returns."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..layers import NON_LOCAL_MODES
from .backbone import run_backbone_benchmark
from .detection import DEFAULT_DETECTORS, run_detection_benchmark
from .environment import environment_record
from .kernels import KERNEL_BACKENDS, run_kernel_benchmark
from .layer import IMPLEMENTATIONS, PASSES, run_layer_benchmark
from .measurement import GIB
from .speed_ratios import training_speed_ratios

PARTS = ("layer", "kernels", "backbone", "detection")
WNLB_MODELS = (
    "wnlb_resnet18", "wnlb_resnet34", "wnlb_resnet50", "wnlb_resnet101",
    "wnlb_convnext_tiny", "wnlb_convnext_small", "wnlb_convnext_base",
)  # fmt: skip
SDPA_BACKENDS = {
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "math": SDPBackend.MATH,
}
#: Naive N x N matrices above this are not tried on the CPU (the machine would swap or kill us).
CPU_NAIVE_LIMIT_BYTES = 4 * GIB


@dataclass
class BenchmarkConfig:
    """What to measure and how; the defaults are the full (GPU-sized) suite."""

    parts: Sequence[str] = PARTS
    device: str = "auto"
    warmup: int = 2
    repeats: int = 5
    layer_sizes: Sequence[tuple[int, int]] = ((400, 600), (800, 1333))
    layer_stages: Sequence[int] = (1, 2, 3, 4)
    layer_modes: Sequence[str] = NON_LOCAL_MODES
    layer_dtypes: Sequence[str] = ("fp32", "bf16")
    layer_passes: Sequence[str] = PASSES
    layer_implementations: Sequence[str] = IMPLEMENTATIONS
    layer_batch: int = 1
    max_naive_gib: float | None = None
    kernel_backends: Sequence[str] = tuple(KERNEL_BACKENDS)
    backbone_models: Sequence[str] = WNLB_MODELS
    backbone_size: tuple[int, int] = (800, 1333)
    backbone_batch: int = 8
    backbone_dtypes: Sequence[str] = ("bf16",)
    detectors: Sequence[str] = DEFAULT_DETECTORS
    detection_size: tuple[int, int] = (800, 1333)
    detection_batch: int = 8
    detection_dtype: str = "bf16"
    detection_inference: bool = True
    detection_rounds: int = 1
    channels_last: bool = False
    sdpa_priority: Sequence[str] = field(default_factory=tuple)

    def resolved_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def naive_limit_bytes(self, device: torch.device) -> int | None:
        """Largest naive pairwise memory to attempt: the option, else 4 GiB on the CPU, else no limit."""
        if self.max_naive_gib is not None:
            return int(self.max_naive_gib * GIB)
        return CPU_NAIVE_LIMIT_BYTES if device.type == "cpu" else None


def quick_config(**overrides: Any) -> BenchmarkConfig:
    """A CPU-sized run (about a minute on two cores): small images, batch 1, float32."""
    config = BenchmarkConfig(
        warmup=1,
        repeats=3,
        layer_sizes=((128, 192),),
        layer_dtypes=("fp32",),
        backbone_models=("wnlb_resnet18",),
        backbone_size=(128, 192),
        backbone_batch=1,
        backbone_dtypes=("fp32",),
        detectors=DEFAULT_DETECTORS,
        detection_size=(192, 256),
        detection_batch=1,
        detection_dtype="fp32",
    )
    return dataclasses.replace(config, **overrides)


def sdpa_priority_context(names: Sequence[str]) -> contextlib.AbstractContextManager:
    """Run SDPA with the backends ``names`` tried in this order (others still allowed after them)."""
    if not names:
        return contextlib.nullcontext()
    unknown = sorted(set(names) - SDPA_BACKENDS.keys())
    if unknown:
        raise ValueError(f"Unknown SDPA backend(s) {unknown}; choose from {tuple(SDPA_BACKENDS)}.")
    order = [SDPA_BACKENDS[name] for name in names]
    order += [backend for backend in SDPA_BACKENDS.values() if backend not in order]
    return sdpa_kernel(order, set_priority=True)


def run_benchmark(
    config: BenchmarkConfig,
    command: Sequence[str],
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the selected parts; returns ``{'environment', 'config', 'records', 'speed_ratios'}``."""
    unknown = sorted(set(config.parts) - set(PARTS))
    if unknown:
        raise ValueError(f"Unknown benchmark part(s) {unknown}; choose from {PARTS}.")
    if config.detection_rounds < 1:  # checked before any part runs, not after an hour of them
        raise ValueError(f"detection rounds must be >= 1, got {config.detection_rounds}.")
    device = config.resolved_device()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    environment = environment_record(device, command)
    common = dict(warmup=config.warmup, repeats=config.repeats, channels_last=config.channels_last)
    records: list[dict[str, Any]] = []
    with sdpa_priority_context(config.sdpa_priority):
        if "layer" in config.parts:
            records += run_layer_benchmark(
                device, config.layer_sizes, config.layer_stages, config.layer_modes, config.layer_dtypes,
                config.layer_passes, config.layer_implementations, batch=config.layer_batch,
                max_naive_bytes=config.naive_limit_bytes(device), on_record=on_record, **common,
            )  # fmt: skip
        if "kernels" in config.parts:
            records += run_kernel_benchmark(
                device, config.layer_sizes, config.layer_stages, config.layer_dtypes, config.layer_passes,
                config.kernel_backends, batch=config.layer_batch, warmup=config.warmup, repeats=config.repeats,
                on_record=on_record,
            )  # fmt: skip
        if "backbone" in config.parts:
            records += run_backbone_benchmark(
                device, config.backbone_models, config.backbone_size, config.backbone_batch,
                config.backbone_dtypes, on_record=on_record, **common,
            )  # fmt: skip
        if "detection" in config.parts:
            records += run_detection_benchmark(
                device, config.detectors, config.detection_size, config.detection_batch, config.detection_dtype,
                rounds=config.detection_rounds, inference=config.detection_inference, on_record=on_record, **common,
            )  # fmt: skip
    config_record = {key: _jsonable(value) for key, value in dataclasses.asdict(config).items()}
    return {
        "environment": environment,
        "config": config_record,
        "records": records,
        "speed_ratios": training_speed_ratios(records),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value
