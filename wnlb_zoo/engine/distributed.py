"""Single-process and ``torchrun`` (DDP) execution from one code path.

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; when they are present the process
group is initialised (NCCL on CUDA, gloo on CPU) and each rank takes its local GPU. Without them
everything runs in one process and the collectives below are no-ops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    """Where this process runs and who it is among its peers."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, evaluates and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str | None = None) -> DistributedContext:
    """Initialise from the ``torchrun`` environment, or describe a single process.

    Args:
        device: ``'cuda'``, ``'cpu'``, ``'cuda:1'``...; default CUDA when available. Under torchrun a
            CUDA device becomes ``cuda:LOCAL_RANK``.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"--device {device} was asked for but CUDA is not available; use --device cpu.")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistributedContext(0, 1, 0, torch.device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        resolved = torch.device("cuda", local_rank)
        backend = "nccl"
    else:
        resolved = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistributedContext(rank, world_size, local_rank, resolved)


def teardown_distributed() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_gather_objects(value: Any, context: DistributedContext) -> list[Any]:
    """Every rank's ``value``, in rank order (``[value]`` in a single process)."""
    if not context.distributed:
        return [value]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def all_ranks_finite(values: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """A 0-d float tensor on ``values``' device: 1 if every value is finite on every rank, else 0.

    Stays on the device (no host sync), so the caller can fetch it together with other numbers;
    all ranks get the same answer and so take the same branch.
    """
    flag = torch.isfinite(values).all().float()
    if context.distributed:
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return flag


def barrier(context: DistributedContext) -> None:
    """Wait for every rank (no-op in a single process)."""
    if context.distributed:
        dist.barrier()
