"""Multi-GPU training with DistributedDataParallel: set up only when ``torchrun`` launches with ``WORLD_SIZE > 1``;
with one process every function here is a no-op."""

from __future__ import annotations

import os

import torch

__all__ = ["init", "place", "wrap", "broadcast_elapsed", "finish"]


def init(device: torch.device) -> tuple[int, int]:
    """``(rank, world size)``; initialises torch.distributed when launched by torchrun with WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def place(device: torch.device, rank: int, world: int) -> torch.device:
    """The GPU of this process under DDP (``LOCAL_RANK``); ``device`` unchanged otherwise."""
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    return device


def wrap(module: torch.nn.Module, device: torch.device, world: int) -> torch.nn.Module:
    """``module`` in DistributedDataParallel when there are several processes."""
    if world <= 1:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(module, device_ids=[device.index] if device.type == "cuda" else None)


def broadcast_elapsed(elapsed: float, device: torch.device, world: int) -> float:
    """Rank 0's training clock on every rank, so that all take the same learning rate and stop at the same step."""
    if world <= 1:
        return elapsed
    import torch.distributed as dist

    t = torch.tensor([elapsed], dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return float(t)


def finish(world: int) -> None:
    """Wait for every rank, then tear the process group down."""
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
