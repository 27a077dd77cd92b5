"""Sets of (N, C, H, W) fields in physical units for the physics metrics and the two-sample test: from a
data set split, a .npy/.npz file, or a run's samples (decoded with the run's normaliser).

Values are the data space of the FieldSpec (physical units, e.g. K or free-fall units) for fields, and
[0, 1] for images (bounded kinds, whose data space is pixel counts). The geometry a metric needs — channel
names, periodic axes, the simulator's facts (meta["simulation"]: Ra, Pr, spectrum) — comes with the set;
for a comparison the real set's is used for both.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from ..fields import FieldSpec


@dataclass
class FieldSet:
    """values: (N, C, H, W) float64 in physical units; valid: the same shape, True = observed (None = no
    gaps); spec: the FieldSpec (normaliser, periodic axes, channel names); simulation: generator facts."""

    name: str
    values: np.ndarray
    spec: FieldSpec
    valid: Optional[np.ndarray] = None
    simulation: dict = field(default_factory=dict)

    @property
    def channels(self) -> tuple[str, ...]:
        c = self.values.shape[1]
        return self.spec.channels if len(self.spec.channels) == c else tuple(f"c{i}" for i in range(c))

    @property
    def periodic(self) -> tuple[int, ...]:
        return tuple(a for a in self.spec.periodic if a in (1, 2))

    def to_model(self) -> torch.Tensor:
        """(N, C, H, W) float32 in model space of this set's spec (images: [0, 1])."""
        x = torch.from_numpy(self.values).float()
        return x if self.spec.bounded else self.spec.normalizer.to_model(x)


def check_spatial(spec: FieldSpec, name: str) -> None:
    if len(spec.shape) != 3 or spec.kind not in ("image", "field", "mask"):
        raise GenlabError(f"physics metrics and c2st need (C, H, W) fields or images; {name} holds "
                          f"{spec.describe()}; use genlab eval's other metrics for this data")


def from_dataset(data, name: str, n: Optional[int] = None, seed: int = 0) -> FieldSet:
    """The primary field of a loaded data set (at most n examples, a seeded subset), in physical units."""
    spec = data.specs[data.primary]
    check_spatial(spec, name)
    if n is not None:
        data = data.subset(n, seed=seed)
    x = data.x
    values = (spec.normalizer.to_model(x) if spec.bounded else x.float()).double().numpy()
    valid = None
    if spec.valid and spec.valid in data.tensors:
        valid = data.tensors[spec.valid].bool().numpy()
        valid = np.broadcast_to(valid, values.shape).copy()
    fs = FieldSet(name, values, spec, valid, dict(data.meta.get("simulation") or {}))
    check_finite(fs, "drop those examples or load the file with its gaps masked (data.gaps=mask)")
    return fs


def from_samples(x: torch.Tensor, spec: FieldSpec, name: str, simulation: Optional[dict] = None) -> FieldSet:
    """Model-space samples of a run -> physical units with the run's normaliser (images: clamped to [0, 1])."""
    check_spatial(spec, name)
    values = x.float().clamp(0, 1) if spec.bounded else spec.normalizer.to_data(x.float())
    fs = FieldSet(name, values.double().numpy(), spec, None, dict(simulation or {}))
    check_finite(fs, "the model diverged; evaluate an earlier checkpoint or retrain with a lower lr")
    return fs


def check_finite(fs: FieldSet, fix: str) -> None:
    ok = np.isfinite(fs.values)
    if fs.valid is not None:
        ok |= ~fs.valid
    if not ok.all():
        bad = int((~ok).any(axis=(1, 2, 3)).sum())
        raise GenlabError(f"{fs.name} has NaN/inf values in {bad} of {len(fs.values)} examples and no validity "
                          f"mask for them; {fix}")


def check_pair(real: FieldSet, fake: FieldSet) -> FieldSet:
    """Same per-example shape, else a one-line error; returns the fake set with the real set's geometry
    (channel names, periodic axes, simulation facts)."""
    r, f = real.values.shape[1:], fake.values.shape[1:]
    if r != f:
        a, b = "x".join(map(str, r)), "x".join(map(str, f))
        raise GenlabError(f"real fields ({real.name}) are {a} but generated fields ({fake.name}) are {b}; "
                          "compare sets of the same channels and size")
    if len(real.values) < 2 or len(fake.values) < 2:
        raise GenlabError(f"{real.name if len(real.values) < 2 else fake.name} has fewer than 2 examples; "
                          "these metrics compare distributions (use --n 2 or more)")
    return replace(fake, spec=real.spec, simulation=real.simulation)
