"""Unaligned (unpaired) data: several streams, each with its own length, order and position.

CycleGAN-style training draws domain A and domain B independently: `UnalignedDataset(streams={"a": A,
"b": B})` where A holds field `a` and B holds field `b`. Each stream has its own shuffling generator
(seeded `seed + k`), permutation and position, all saved in the checkpoint so resume stays bit-exact.
An epoch is per stream: the shorter domain simply cycles more often.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import torch

from ..errors import GenlabError
from ..fields import Batch, DataInfo
from .base import FieldDataset, IndexBatcher


class UnalignedDataset:
    """Streams name -> FieldDataset whose field names do not collide; batches merge their fields."""

    def __init__(self, name: str, split: str, streams: Mapping[str, FieldDataset], *, primary: Optional[str] = None,
                 meta: Optional[dict] = None):
        if not streams:
            raise GenlabError(f"dataset {name}:{split} has no streams")
        self.name, self.split, self.streams = name, split, dict(streams)
        seen: dict[str, str] = {}
        for s, d in self.streams.items():
            for f in d.info.fields:
                if f in seen:
                    raise ValueError(f"streams {seen[f]!r} and {s!r} both provide field {f!r}")
                seen[f] = s
        first = next(iter(self.streams.values()))
        self.primary = primary or first.primary
        self.meta: dict[str, Any] = dict(meta or {})
        self.meta.setdefault("streams", {s: len(d) for s, d in self.streams.items()})

    def __len__(self) -> int:
        return max(len(d) for d in self.streams.values())

    @property
    def info(self) -> DataInfo:
        specs: dict = {}
        for d in self.streams.values():
            specs.update(d.info.fields)
        return DataInfo.of(specs, self.primary, [tuple(d.info.fields) for d in self.streams.values()])

    def _stream_of(self, field: str) -> FieldDataset:
        for d in self.streams.values():
            if field in d.info.fields:
                return d
        raise GenlabError(f"dataset {self.name} has no field {field!r}")

    # the primary stream stands in for evaluation of unconditional metrics
    def get(self, idx, device="cpu"):
        return self._stream_of(self.primary).get(idx, device)

    def all(self, device="cpu"):
        return self._stream_of(self.primary).all(device)

    def subset(self, n: int, *, seed: int = 0) -> "UnalignedDataset":
        return UnalignedDataset(self.name, self.split, {s: d.subset(n, seed=seed) for s, d in self.streams.items()},
                                primary=self.primary, meta=dict(self.meta))

    def batcher(self, batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1,
                device: torch.device | str = "cpu") -> "StreamBatcher":
        return StreamBatcher(self, batch_size, seed=seed, rank=rank, world_size=world_size, device=device)

    def preview_batch(self, n: int, device="cpu") -> Batch:
        parts = [d.preview_batch(n, device) for d in self.streams.values()]
        m = min(len(p) for p in parts)
        return Batch(fields={k: v[:m] for p in parts for k, v in p.fields.items()})


class StreamBatcher:
    """One IndexBatcher per stream; a batch holds the same number of examples of every stream."""

    def __init__(self, data: UnalignedDataset, batch_size: int, *, seed: int, rank: int = 0,
                 world_size: int = 1, device: torch.device | str = "cpu"):
        self.data = data
        self.batchers = {s: IndexBatcher(d, batch_size, seed=seed + k, rank=rank, world_size=world_size,
                                         device=device)
                         for k, (s, d) in enumerate(data.streams.items())}

    def next(self, generator: Optional[torch.Generator] = None) -> Batch:
        fields: dict = {}
        for b in self.batchers.values():
            fields.update(b.next(generator).fields)
        return Batch(fields=fields, generator=generator)

    def state_dict(self) -> dict:
        return {s: b.state_dict() for s, b in self.batchers.items()}

    def load_state_dict(self, state: dict) -> None:
        for s, b in self.batchers.items():
            b.load_state_dict(state[s])
