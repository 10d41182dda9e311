"""Benchmarks of the wNLB layer, wNLB backbones and Mask R-CNN on them (``wnlb-zoo bench``).

Each measurement records the median time of repeated calls (CUDA events on a GPU) and the peak
memory, and :func:`run_benchmark` returns them with the device, library versions, date and
command, ready to be written as JSON.
"""

from ..engine.peak_memory import PeakMemory
from .backbone import base_model_name, run_backbone_benchmark
from .detection import (
    DETECTOR_PRESETS,
    BenchmarkedDetector,
    benchmarked_detector,
    build_detector,
    run_detection_benchmark,
)
from .environment import environment_record
from .kernels import run_kernel_benchmark
from .layer import run_layer_benchmark
from .measurement import Measurement, measure
from .naive import naive_block_forward, naive_pairwise_bytes
from .report import format_report, write_json
from .shapes import StageShape, parse_size, stage_shape
from .speed_ratios import PLAIN_DETECTOR, training_speed_ratios
from .suite import PARTS, BenchmarkConfig, quick_config, run_benchmark

__all__ = [
    "DETECTOR_PRESETS",
    "PARTS",
    "PLAIN_DETECTOR",
    "BenchmarkConfig",
    "BenchmarkedDetector",
    "Measurement",
    "PeakMemory",
    "StageShape",
    "base_model_name",
    "build_detector",
    "benchmarked_detector",
    "environment_record",
    "format_report",
    "measure",
    "naive_block_forward",
    "naive_pairwise_bytes",
    "parse_size",
    "quick_config",
    "run_backbone_benchmark",
    "run_benchmark",
    "run_detection_benchmark",
    "run_kernel_benchmark",
    "run_layer_benchmark",
    "stage_shape",
    "training_speed_ratios",
    "write_json",
]
