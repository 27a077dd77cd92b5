"""In-memory datasets of named fields and index-gather batching (DESIGN §4, §4b).

Small datasets live in memory as one tensor per stored field; a batch is `t[idx]` for a random index
vector — no per-sample Python, no PIL in the hot path. Stored tensors are in *data space* (uint8 pixel
counts, float values in physical units, int labels); each field's `Normalizer` maps a batch to model
space. Derived fields (masks, degradations, crops) are computed per batch from the run's generator by
`Derivation`s, so they are reproducible and resumable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import torch
from torch import Tensor

from ..errors import GenlabError
from ..fields import Batch, DataInfo, FieldSpec, Normalizer, image_spec, label_spec


@dataclass(frozen=True)
class Derivation:
    """A per-batch transform drawn in the data layer: `fn(fields, generator) -> {name: tensor}`.

    fields: the batch's model-space fields so far (dict, not modified in place); the returned tensors
    are added (or replace fields of the same name). specs: the spec of every returned field.
    """

    name: str
    fn: Callable[[dict[str, Tensor], Optional[torch.Generator]], dict[str, Tensor]]
    specs: Mapping[str, FieldSpec]


class FieldDataset:
    """A whole split in memory, as named stored tensors with their specs.

    tensors: name -> (N, ...) tensor in data space (uint8/int/float/bool).
    specs: name -> FieldSpec of each stored tensor (its normaliser maps data -> model space).
    derived: Derivations applied per batch, in order.
    primary: the field unconditional models learn (`x`).
    meta: dataset facts (class names, source file, coordinates, toy mode centres).
    """

    def __init__(self, name: str, split: str, tensors: Mapping[str, Tensor], specs: Mapping[str, FieldSpec],
                 *, derived: tuple[Derivation, ...] = (), primary: str = "x", meta: Optional[dict] = None):
        self.name, self.split, self.primary = name, split, primary
        self.tensors, self.specs = dict(tensors), dict(specs)
        self.derived = tuple(derived)
        self.meta: dict[str, Any] = dict(meta or {})
        lengths = {k: len(v) for k, v in self.tensors.items()}
        if not lengths or max(lengths.values()) == 0:
            raise GenlabError(f"dataset {name}:{split} is empty; check its path or options")
        if len(set(lengths.values())) > 1:
            raise ValueError(f"dataset {name}:{split}: fields have different lengths {lengths}")
        missing = set(self.tensors) - set(self.specs)
        if missing:
            raise ValueError(f"dataset {name}:{split}: no spec for field(s) {sorted(missing)}")

    # --- description --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    @property
    def info(self) -> DataInfo:
        specs = dict(self.specs)
        for d in self.derived:
            specs.update(d.specs)
        return DataInfo.of(specs, self.primary)

    # compatibility with the single-tensor datasets (x, y, scale, levels)
    @property
    def x(self) -> Tensor:
        return self.tensors[self.primary]

    @property
    def y(self) -> Optional[Tensor]:
        return self.tensors.get("y")

    @property
    def levels(self) -> Optional[int]:
        return self.specs[self.primary].levels

    @property
    def n_classes(self) -> int:
        y = self.specs.get("y")
        return y.n_classes if y is not None else 0

    @property
    def scale(self) -> float:
        """Multiply stored primary values by this to get model space (single-scale normalisers only)."""
        return 1.0 / self.specs[self.primary].normalizer.scale[0]

    # --- access -------------------------------------------------------------------------------
    def field(self, name: str, idx: Tensor | slice, device: torch.device | str = "cpu") -> Tensor:
        """Stored field `name` at `idx` in model space (float; labels/tokens stay integer)."""
        t = self.tensors[name][idx].to(device, non_blocking=True)
        spec = self.specs[name]
        if spec.kind in ("label", "tokens"):
            return t.long()
        return spec.normalizer.to_model(t) if not spec.normalizer.is_identity else t.float()

    def get(self, idx: Tensor | slice, device: torch.device | str = "cpu") -> Tensor:
        """Model-space float32 primary field for indices `idx`."""
        return self.field(self.primary, idx, device)

    def labels(self, idx: Tensor | slice, device: torch.device | str = "cpu") -> Optional[Tensor]:
        return None if "y" not in self.tensors else self.field("y", idx, device)

    def all(self, device: torch.device | str = "cpu") -> Tensor:
        return self.get(slice(None), device)

    def batch(self, idx: Tensor | slice, device: torch.device | str = "cpu",
              generator: Optional[torch.Generator] = None) -> Batch:
        """Every stored field at `idx` plus the derived ones, in model space."""
        fields = {n: self.field(n, idx, device) for n in self.tensors}
        if self.derived:
            if generator is None:  # evaluation/preview: derived fields from a fixed stream
                generator = torch.Generator(torch.device(device)).manual_seed(0)
            for d in self.derived:
                fields.update(d.fn(dict(fields), generator))
        return Batch(fields=fields, generator=generator)

    def subset(self, n: int, *, seed: int = 0) -> "FieldDataset":
        """A fixed random subset of n examples (the whole split if n >= N)."""
        if n >= len(self):
            return self
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(self), generator=g)[:n]
        return self.take(idx)

    def take(self, idx: Tensor) -> "FieldDataset":
        return FieldDataset(self.name, self.split, {k: v[idx] for k, v in self.tensors.items()}, self.specs,
                            derived=self.derived, primary=self.primary, meta=dict(self.meta))

    def batches(self, batch_size: int, device: torch.device | str = "cpu"):
        """Iterate over the split in order (evaluation): (primary, labels) pairs."""
        for i in range(0, len(self), batch_size):
            sl = slice(i, i + batch_size)
            yield self.get(sl, device), self.labels(sl, device)

    def batcher(self, batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1,
                device: torch.device | str = "cpu") -> "IndexBatcher":
        return IndexBatcher(self, batch_size, seed=seed, rank=rank, world_size=world_size, device=device)

    def preview_batch(self, n: int, device: torch.device | str = "cpu") -> Batch:
        """The first n examples (with derived fields from a fixed stream): the run's preview inputs."""
        return self.batch(slice(0, min(n, len(self))), device)


def ArrayDataset(name: str, split: str, x: Tensor, y: Optional[Tensor] = None, scale: float = 1.0,
                 levels: Optional[int] = None, n_classes: int = 0, meta: Optional[dict] = None) -> FieldDataset:
    """The single-tensor dataset of the unconditional families: x (N, C, H, W) images or (N, D) vectors,
    stored values times `scale` = model space; optional labels y (N,)."""
    if len(x) == 0:
        raise GenlabError(f"dataset {name}:{split} is empty; check its path or options")
    if y is not None and len(y) != len(x):
        raise ValueError(f"{len(x)} examples but {len(y)} labels")
    spec = image_spec(tuple(x.shape[1:]), levels)
    if scale != 1.0:
        inv = 1.0 / scale
        inv = float(round(inv)) if abs(inv - round(inv)) < 1e-9 else inv  # 1/255 -> exactly 255
        spec = FieldSpec(spec.shape, spec.kind, levels, Normalizer((0.0,), (inv,)))
    tensors, specs = {"x": x}, {"x": spec}
    meta = dict(meta or {})
    if y is not None:
        tensors["y"] = y
        specs["y"] = label_spec(n_classes, meta.get("classes") if n_classes else ())
    return FieldDataset(name, split, tensors, specs, meta=meta)


class IndexBatcher:
    """Endless shuffled batches by index gather, with exactly restorable state.

    Each epoch is a fresh permutation from a private generator; the state (generator, current
    permutation, position) is saved in checkpoints so a resumed run sees the same data order. Under
    DDP each rank takes a disjoint strided slice of the same global batch.
    """

    def __init__(self, data: FieldDataset, batch_size: int, *, seed: int, rank: int = 0,
                 world_size: int = 1, device: torch.device | str = "cpu"):
        if batch_size % world_size:
            raise GenlabError(f"train.batch_size={batch_size} must be divisible by the number of "
                              f"processes ({world_size})")
        self.data, self.global_batch = data, batch_size
        self.rank, self.world_size, self.device = rank, world_size, device
        if batch_size > len(data):
            raise GenlabError(f"train.batch_size={batch_size} exceeds the dataset size of {data.name}:{data.split} "
                              f"({len(data)} examples); use a smaller batch")
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(len(data), generator=self.gen)
        self.pos = 0

    def next_indices(self) -> Tensor:
        if self.pos + self.global_batch > len(self.perm):
            self.perm = torch.randperm(len(self.data), generator=self.gen)
            self.pos = 0
        idx = self.perm[self.pos:self.pos + self.global_batch]
        self.pos += self.global_batch
        return idx[self.rank::self.world_size]

    def next(self, generator: Optional[torch.Generator] = None) -> Batch:
        return self.data.batch(self.next_indices(), self.device, generator)

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])
        self.perm = state["perm"].clone()
        self.pos = int(state["pos"])

