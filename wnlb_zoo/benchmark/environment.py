"""Where and how a benchmark ran: device, library versions, date, command and machine load."""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import timm
import torch
import torchvision


def device_name(device: torch.device) -> str:
    """A human-readable name of ``device``: the GPU's name, or the CPU model and core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model} ({os.cpu_count()} logical cores)"


def git_commit(source: Path | None = None) -> str | None:
    """The commit of the git checkout holding ``source`` (default: this package), if it is one.

    ``-dirty`` is appended when tracked files differ from that commit: the figures then come from
    a tree no commit holds (or from a copy whose ``.git`` lags behind its files).
    """
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--abbrev=7", "--dirty"],
            cwd=source or Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def environment_record(device: torch.device, command: Sequence[str]) -> dict[str, Any]:
    """Everything a reader needs to judge (and repeat) a measurement."""
    from .. import __version__

    record: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(command),
        "device": device_name(device),
        "device_type": device.type,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm.__version__,
        "wnlb_zoo": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cpu_threads": torch.get_num_threads(),
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        record["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        record["cudnn_benchmark"] = torch.backends.cudnn.benchmark
    return record
