"""Single-process and ``torchrun`` (DDP) execution from one code path.

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; when they are present the process
group is initialised (NCCL on CUDA, gloo on CPU) and each rank takes its local GPU. Without them
everything runs in one process and the collectives below are no-ops.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


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


def mean_over_ranks(values: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """The element-wise mean of ``values`` over all ranks (``values`` itself in a single process).

    Logged losses are averaged this way, as torchvision's ``reduce_dict`` does, so that the log
    describes the whole batch rather than rank 0's share. A value that is not finite on any rank
    makes the mean not finite, so the same numbers also tell every rank alike that a loss diverged.
    """
    if not context.distributed:
        return values
    total = values.clone()
    dist.all_reduce(total)
    return total / context.world_size


def run_on_main_rank(action: Callable[[], T], context: DistributedContext) -> T | None:
    """Run ``action`` on rank 0 only; return its result there (None elsewhere) and raise its error everywhere.

    Rank 0 alone writes the run directory. When it fails (another run holds the directory, a
    checkpoint cannot be written), the other ranks raise the same error instead of waiting for
    ever at their next collective. The call is also a barrier.
    """
    result, error = None, None
    if context.is_main:
        try:
            result = action()
        except Exception as caught:
            error = caught
    if context.distributed:
        shared = [_transferable(error)]
        dist.broadcast_object_list(shared, src=0)
        error = error if context.is_main else shared[0]
    if error is not None:
        raise error
    return result


def broadcast_from_main(value: T, context: DistributedContext) -> T:
    """Rank 0's ``value`` on every rank (picklable values only)."""
    if not context.distributed:
        return value
    shared = [value]
    dist.broadcast_object_list(shared, src=0)
    return shared[0]


def _transferable(error: Exception | None) -> Exception | None:
    """``error``, or a RuntimeError with its message when it cannot be pickled to the other ranks."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"rank 0 failed: {type(error).__name__}: {error}")
    return error


def barrier(context: DistributedContext) -> None:
    """Wait for every rank (no-op in a single process)."""
    if context.distributed:
        dist.barrier()
