"""In-memory datasets and index-gather batching (DESIGN §4).

Small datasets live in memory as one tensor; a batch is `x[idx]` for a random index vector — no
per-sample Python, no PIL in the hot path.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import Tensor

from ..errors import GenlabError
from ..models.base import Batch, DataInfo


@dataclass
class ArrayDataset:
    """A whole split in memory.

    x: (N, C, H, W) or (N, D) tensor; uint8 storage is converted per batch (x * scale).
    y: (N,) int64 labels or None.
    scale: multiply stored values by this to get model-space floats (1/255 for 8-bit images).
    levels: quantisation levels of the data (see DataInfo), None if continuous.
    meta: dataset-specific facts (class names, toy mode centres and std, file hashes).
    """

    name: str
    split: str
    x: Tensor
    y: Optional[Tensor] = None
    scale: float = 1.0
    levels: Optional[int] = None
    n_classes: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if len(self.x) == 0:
            raise GenlabError(f"dataset {self.name}:{self.split} is empty; check its path or options")
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"{len(self.x)} examples but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def info(self) -> DataInfo:
        return DataInfo(shape=tuple(self.x.shape[1:]), levels=self.levels, n_classes=self.n_classes)

    def get(self, idx: Tensor | slice, device: torch.device | str = "cpu") -> Tensor:
        """Model-space float32 batch for indices `idx`."""
        x = self.x[idx].to(device, non_blocking=True)
        x = x.float()
        return x * self.scale if self.scale != 1.0 else x

    def labels(self, idx: Tensor | slice, device: torch.device | str = "cpu") -> Optional[Tensor]:
        return None if self.y is None else self.y[idx].to(device, non_blocking=True)

    def all(self, device: torch.device | str = "cpu") -> Tensor:
        return self.get(slice(None), device)

    def subset(self, n: int, *, seed: int = 0) -> "ArrayDataset":
        """A fixed random subset of n examples (the whole split if n >= N)."""
        if n >= len(self):
            return self
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(self), generator=g)[:n]
        return ArrayDataset(self.name, self.split, self.x[idx], None if self.y is None else self.y[idx],
                            self.scale, self.levels, self.n_classes, dict(self.meta))

    def batches(self, batch_size: int, device: torch.device | str = "cpu"):
        """Iterate over the split in order (evaluation)."""
        for i in range(0, len(self), batch_size):
            sl = slice(i, i + batch_size)
            yield self.get(sl, device), self.labels(sl, device)


class IndexBatcher:
    """Endless shuffled batches by index gather, with exactly restorable state.

    Each epoch is a fresh permutation from a private generator; the state (generator, current
    permutation, position) is saved in checkpoints so a resumed run sees the same data order. Under
    DDP each rank takes a disjoint strided slice of the same global batch.
    """

    def __init__(self, data: ArrayDataset, batch_size: int, *, seed: int, rank: int = 0,
                 world_size: int = 1, device: torch.device | str = "cpu"):
        if batch_size % world_size:
            raise GenlabError(f"train.batch_size={batch_size} must be divisible by the number of "
                              f"processes ({world_size})")
        self.data, self.global_batch = data, batch_size
        self.rank, self.world_size, self.device = rank, world_size, device
        if batch_size > len(data):
            raise GenlabError(f"train.batch_size={batch_size} exceeds the dataset size {len(data)}; "
                              "use a smaller batch")
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(len(data), generator=self.gen)
        self.pos = 0

    def next(self, generator: Optional[torch.Generator] = None) -> Batch:
        if self.pos + self.global_batch > len(self.perm):
            self.perm = torch.randperm(len(self.data), generator=self.gen)
            self.pos = 0
        idx = self.perm[self.pos:self.pos + self.global_batch]
        self.pos += self.global_batch
        idx = idx[self.rank::self.world_size]
        return Batch(self.data.get(idx, self.device), self.data.labels(idx, self.device), generator)

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])
        self.perm = state["perm"].clone()
        self.pos = int(state["pos"])
