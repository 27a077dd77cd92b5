"""Plain torch.distributed behind a few helpers (DESIGN §6).

`torchrun --standalone --nproc-per-node=N -m genlab train ...`: gloo on CPU, nccl on GPU. Rank 0
writes files; every rank gets its own noise seed and a disjoint slice of each global batch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init(device_kind: str) -> DistInfo:
    """Join the process group torchrun set up (no-op for a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def wrap(net: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """DDP-wrap one network (each network separately, so D-only phases need no unused-param search)."""
    if not info.enabled or not any(p.requires_grad for p in net.parameters()):
        return net
    ids = [device.index] if device.type == "cuda" else None
    # buffers (batch-norm statistics) are broadcast from rank 0 at every forward: DDP's default, left
    # implicit because naming it (broadcast_buffers) is deprecated from torch 2.13 on
    return nn.parallel.DistributedDataParallel(net, device_ids=ids)


def unwrap(net: nn.Module) -> nn.Module:
    """The plain module under DDP and/or torch.compile wrappers."""
    while True:
        if isinstance(net, nn.parallel.DistributedDataParallel):
            net = net.module
        elif hasattr(net, "_orig_mod"):
            net = net._orig_mod
        else:
            return net


def any_flag(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every rank if it is True on any rank."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def all_gather_cat(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Concatenate equal-shaped tensors from every rank along dim 0."""
    if not info.enabled:
        return x
    parts = [torch.empty_like(x) for _ in range(info.world_size)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, 0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo, *, sync: bool = True) -> None:
    """End of a distributed run: wait for every rank (`sync`; skip it when some rank may not get here),
    then destroy the process group while the interpreter is fully alive. Without the barrier a rank
    that finishes first tears its group down while others still finish their last collectives; without
    the destroy, gloo's worker threads are torn down during interpreter exit (seen as SIGABRT,
    "terminate called without an active exception")."""
    if info.enabled and dist.is_initialized():
        if sync:
            dist.barrier()
        dist.destroy_process_group()
