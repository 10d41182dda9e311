"""Benchmark plots: the numbers they show are the records' (checked by hand), and the PNGs decode."""

import pytest
from torchvision.io import decode_png, read_file

from wnlb_zoo.benchmark.figures import (
    draw_layer_memory,
    draw_training_speed,
    layer_memory_points,
)


def layer(implementation, stage, positions, extra_mib, status="ok", dtype="bf16"):
    return {
        "part": "layer", "implementation": implementation, "stage": stage, "channels": 128 * stage,
        "positions": positions, "extra_mib": extra_mib, "status": status, "mode": "embedded", "dtype": dtype,
        "pass": "fwd+bwd",
    }  # fmt: skip


def train(detector, images_per_s, status="ok"):
    return {
        "part": "detection", "phase": "train", "detector": detector, "label": f"label of {detector}",
        "images_per_s": images_per_s, "status": status,
    }  # fmt: skip


LAYER_RECORDS = [
    layer("naive", 1, 400, 16.0),
    layer("naive", 1, 100, 1.0),
    layer("ours", 1, 100, 2.0),
    layer("ours", 1, 400, 8.0),
    layer("naive", 1, 1600, 0.0, status="out of memory"),  # not measured: left out
    layer("ours", 1, 1600, 99.0, dtype="fp32"),  # another dtype: left out
]


def test_layer_points_are_grouped_by_block_and_stage_and_sorted_by_positions():
    points = layer_memory_points(LAYER_RECORDS, "embedded", "bf16", "fwd+bwd")
    assert points == {("naive", 1, 128): [(100, 1.0), (400, 16.0)], ("ours", 1, 128): [(100, 2.0), (400, 8.0)]}
    with pytest.raises(ValueError, match="no measured layer records of mode 'dot'"):
        layer_memory_points(LAYER_RECORDS, "dot", "bf16", "fwd+bwd")


def test_the_plots_are_written_as_decodable_pictures(tmp_path):
    with pytest.raises(ValueError, match="no training speed relative to the plain detector 'resnet50'"):
        draw_training_speed({"run": [train("wnlb_a", 30.0)]}, tmp_path / "none.png", "title")
    memory = draw_layer_memory(LAYER_RECORDS, tmp_path / "memory.png", "title", device_memory_gib=1.0)
    speed = draw_training_speed(
        {
            "run 1": [train("resnet50", 40.0), train("wnlb_a", 30.0)],
            "run 2": [train("resnet50", 20.0), train("wnlb_b", 5.0)],
        },
        tmp_path / "speed.png",
        "title",
    )
    for path in (memory, speed):
        assert min(decode_png(read_file(str(path))).shape[-2:]) > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["memory.png", "speed.png"]  # no staging file left
