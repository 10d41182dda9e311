"""scripts/profile_training_step.py profiles real training steps and writes what it prints."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "profile_training_step.py"


@pytest.mark.slow
def test_profile_of_a_tiny_training_step_names_its_operators(tmp_path):
    command = [sys.executable, str(SCRIPT), "--detectors", "wnlb_resnet50_keys32", "--size", "64x96",
               "--batch", "1", "--dtype", "fp32", "--device", "cpu", "--warmup", "0", "--steps", "1",
               "--rows", "10", "--output", str(tmp_path), "--trace"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    table = (tmp_path / "wnlb_resnet50_keys32.txt").read_text()
    assert table in result.stdout
    assert "aten::" in table and "Self CPU time total" in table
    assert json.loads((tmp_path / "wnlb_resnet50_keys32.trace.json").read_text())["traceEvents"]
