"""The data contract (DESIGN §4b): named fields, their specs, normalisers, and the batch.

A batch is a set of named fields (`x`, `y`, `a`, `b`, `lowres`, `mask`, `tokens`, ...) in *model space*
plus the run's noise generator. `DataInfo` describes every field with a `FieldSpec`: per-example shape,
kind, quantisation levels, a `Normalizer` between data space (physical units) and model space, periodic
axes and the name of the validity mask where observations have gaps. Both `data/` and `models/` import
this module; it imports neither.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Optional

import torch
from torch import Tensor

KINDS = ("image", "field", "mask", "label", "tokens", "vector", "sequence")


@dataclass(frozen=True)
class Normalizer:
    """Affine map between data space and model space, per channel:

        model = (data − offset) / scale,        data = model · scale + offset.

    offset, scale: one value per channel (length C) or one for all (length 1). `units` names data space
    (e.g. "K", "m/s", "" for pixel counts). 8-bit images use offset 0, scale 255, so model space is
    [0, 1] with level k at k/255; physical fields are standardised (offset = mean, scale = std).
    """

    offset: tuple[float, ...] = (0.0,)
    scale: tuple[float, ...] = (1.0,)
    units: str = ""

    def __post_init__(self):
        object.__setattr__(self, "offset", tuple(float(v) for v in self.offset))
        object.__setattr__(self, "scale", tuple(float(v) for v in self.scale))
        if not self.scale or any(not (s > 0) for s in self.scale):
            raise ValueError(f"normaliser scale {self.scale} must be positive")

    @property
    def is_identity(self) -> bool:
        return all(o == 0 for o in self.offset) and all(s == 1 for s in self.scale)

    def _param(self, values: tuple[float, ...], x: Tensor, channel_dim: int):
        if len(values) == 1:
            return values[0]  # a Python scalar: the same float32 arithmetic as `x * (1 / 255)`
        shape = [1] * x.dim()
        shape[channel_dim] = len(values)
        return torch.tensor(values, dtype=x.dtype, device=x.device).view(shape)  # broadcast over channels

    def to_model(self, x: Tensor, channel_dim: int = 1) -> Tensor:
        """Data space -> model space (float)."""
        x = x.float()
        if any(o != 0 for o in self.offset):
            x = x - self._param(self.offset, x, channel_dim)
        if len(self.scale) == 1:
            return x * (1.0 / self.scale[0]) if self.scale[0] != 1 else x
        return x / self._param(self.scale, x, channel_dim)

    def to_data(self, y: Tensor, channel_dim: int = 1) -> Tensor:
        """Model space -> data space (physical units)."""
        y = y.float()
        if len(self.scale) > 1 or self.scale[0] != 1:
            y = y * self._param(self.scale, y, channel_dim)
        if any(o != 0 for o in self.offset):
            y = y + self._param(self.offset, y, channel_dim)
        return y

    def to_dict(self) -> dict:
        return {"offset": list(self.offset), "scale": list(self.scale), "units": self.units}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Normalizer":
        return cls(tuple(d.get("offset", (0.0,))), tuple(d.get("scale", (1.0,))), d.get("units", ""))


@dataclass(frozen=True)
class FieldSpec:
    """What one named field is.

    shape: per-example shape: (C, H, W) for image/field/mask (H ≠ W allowed), (D,) vector, () label,
        (T,) tokens, (T, D) sequence.
    kind: image (bounded, model space [0, 1]), field (float physical field, standardised), mask (1 = keep /
        observed, 0 = hole / gap), label (int class), tokens (int sequence), vector, sequence (T steps of D
        values: a multi-hot piano roll with levels 2, or a real series, standardised, without levels).
    levels: quantisation levels (256 for 8-bit images: model value k/(levels − 1)); the vocabulary size for
        tokens; None if continuous.
    normalizer: data space (with units) <-> model space.
    periodic: per-example axes that wrap around (e.g. (2,) = longitude of a (C, lat, lon) field).
    valid: name of the mask field marking observed (1) vs missing (0) values of this field, if it has gaps.
    classes: label names (n_classes = len(classes), or n_classes if unnamed).
    channels: variable names per channel (e.g. ("sst",)).
    """

    shape: tuple[int, ...]
    kind: str = "image"
    levels: Optional[int] = None
    normalizer: Normalizer = field(default_factory=Normalizer)
    periodic: tuple[int, ...] = ()
    valid: Optional[str] = None
    classes: tuple[str, ...] = ()
    n_classes: int = 0
    channels: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "periodic", tuple(int(a) for a in self.periodic))
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        object.__setattr__(self, "channels", tuple(str(c) for c in self.channels))
        if self.kind not in KINDS:
            raise ValueError(f"field kind {self.kind!r} is invalid; expected one of {', '.join(KINDS)}")
        if self.classes and not self.n_classes:
            object.__setattr__(self, "n_classes", len(self.classes))

    @property
    def bounded(self) -> bool:
        """Model space is [0, 1] (images and masks); fields and vectors are unbounded."""
        return self.kind in ("image", "mask")

    @property
    def spatial(self) -> bool:
        return len(self.shape) == 3 and self.kind in ("image", "field", "mask")

    @property
    def units(self) -> str:
        return self.normalizer.units

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "kind": self.kind, "levels": self.levels,
                "normalizer": self.normalizer.to_dict(), "periodic": list(self.periodic), "valid": self.valid,
                "classes": list(self.classes), "n_classes": self.n_classes, "channels": list(self.channels)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "FieldSpec":
        return cls(tuple(d["shape"]), d.get("kind", "image"), d.get("levels"),
                   Normalizer.from_dict(d.get("normalizer") or {}), tuple(d.get("periodic") or ()),
                   d.get("valid"), tuple(d.get("classes") or ()), int(d.get("n_classes") or 0),
                   tuple(d.get("channels") or ()))

    def describe(self) -> str:
        """One line: kind, shape, units, levels, periodic axes, gaps."""
        parts = [f"{self.kind} {'x'.join(map(str, self.shape)) or 'scalar'}"]
        if self.channels:
            parts.append("variables " + ",".join(self.channels))
        if self.units:
            parts.append(f"units {self.units}")
        if self.levels:
            parts.append(f"{self.levels} levels")
        if self.n_classes:
            parts.append(f"{self.n_classes} classes")
        if self.periodic:
            parts.append(f"periodic axes {list(self.periodic)}")
        if self.valid:
            parts.append(f"gaps marked by '{self.valid}'")
        return ", ".join(parts)


def image_spec(shape, levels: Optional[int]) -> FieldSpec:
    """The spec of a (C, H, W) image (levels -> counts 0..levels−1) or a (D,) vector of raw values."""
    shape = tuple(shape)
    if len(shape) == 3:
        norm = Normalizer((0.0,), (float(levels - 1),)) if levels else Normalizer()
        return FieldSpec(shape, "image", levels, norm)
    return FieldSpec(shape, "vector", levels)


def label_spec(n_classes: int, classes=()) -> FieldSpec:
    return FieldSpec((), "label", classes=tuple(classes or ()), n_classes=n_classes)


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data to build itself: the spec of every field.

    `shape`, `levels`, `n_classes` describe the primary field `x` and the labels `y` (the contract of the
    unconditional families); `fields` has every field. `DataInfo((1, 28, 28), 256, 10)` still works and
    builds the specs of `x` (and `y` if n_classes > 0).
    `streams`: for unaligned data (CycleGAN's domains), the field names of each independently drawn stream;
    () = every field of an example belongs together (paired data). `aligned(a, b)` tells which.
    """

    shape: tuple[int, ...] = ()
    levels: Optional[int] = None
    n_classes: int = 0
    fields: Mapping[str, FieldSpec] = field(default=None, compare=False)  # type: ignore[assignment]
    primary: str = "x"
    streams: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self):
        fields = dict(self.fields or {})
        if not fields:
            fields["x"] = image_spec(self.shape, self.levels)
            if self.n_classes:
                fields["y"] = label_spec(self.n_classes)
        object.__setattr__(self, "fields", fields)
        p = fields.get(self.primary)
        if p is not None:
            object.__setattr__(self, "shape", p.shape)
            object.__setattr__(self, "levels", p.levels)
        y = fields.get("y")
        object.__setattr__(self, "n_classes", y.n_classes if y is not None and y.kind == "label" else 0)

    @classmethod
    def of(cls, fields: Mapping[str, FieldSpec], primary: str = "x", streams=()) -> "DataInfo":
        return cls(fields=dict(fields), primary=primary, streams=tuple(tuple(g) for g in streams))

    def aligned(self, a: str, b: str) -> bool:
        """Fields a and b come from the same example (paired), not from independent streams."""
        return not self.streams or any(a in g and b in g for g in self.streams)

    @property
    def spec(self) -> FieldSpec:
        """The primary field's spec."""
        return self.fields[self.primary]

    @property
    def is_image(self) -> bool:
        """The primary field is (C, H, W) (an image, a physical field or a mask)."""
        return len(self.shape) == 3

    @property
    def bounded(self) -> bool:
        return self.spec.bounded if self.primary in self.fields else True

    @property
    def dims(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def classes(self) -> tuple[str, ...]:
        y = self.fields.get("y")
        return y.classes if y is not None else ()

    def with_fields(self, **specs: FieldSpec) -> "DataInfo":
        return DataInfo.of({**self.fields, **specs}, self.primary, self.streams)

    def to_dict(self) -> dict:
        d = {"primary": self.primary, "fields": {k: v.to_dict() for k, v in self.fields.items()}}
        if self.streams:
            d["stream_fields"] = [list(g) for g in self.streams]  # ("streams" is the dataset meta's lengths)
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "DataInfo":
        if "fields" not in d:  # run directories written before the field contract
            return cls(tuple(d["shape"]), d.get("levels"), d.get("n_classes", 0) or 0)
        return cls.of({k: FieldSpec.from_dict(v) for k, v in d["fields"].items()}, d.get("primary", "x"),
                      d.get("stream_fields") or ())


class Batch:
    """One training or evaluation batch: named fields in model space plus the noise generator.

    `Batch(x, y, generator)` (the unconditional families), or `Batch(fields={"a": A, "b": B}, generator=g)`.
    Fields read as attributes (`batch.x`, `batch.mask`); `batch.y` is None when there are no labels.
    generator: the trainer's noise stream on the fields' device; every random draw in a loss uses it so that
        runs (and resumed runs) are reproducible without touching global RNG state.
    """

    __slots__ = ("fields", "generator")

    def __init__(self, x: Optional[Tensor] = None, y: Optional[Tensor] = None,
                 generator: Optional[torch.Generator] = None, *, fields: Optional[Mapping[str, Tensor]] = None):
        f = dict(fields or {})
        if x is not None:
            f["x"] = x
        if y is not None:
            f["y"] = y
        object.__setattr__(self, "fields", f)
        object.__setattr__(self, "generator", generator)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        f = object.__getattribute__(self, "fields")
        if name in f:
            return f[name]
        if name == "y":
            return None
        raise AttributeError(f"this batch has no field {name!r}; it has {', '.join(f) or 'none'}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "generator":
            object.__setattr__(self, name, value)
        else:
            self.fields[name] = value

    def __getitem__(self, name: str) -> Tensor:
        return getattr(self, name)

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def get(self, name: str, default=None):
        return self.fields.get(name, default)

    def __len__(self) -> int:
        for v in self.fields.values():
            return len(v)
        return 0

    def replace(self, **fields: Tensor) -> "Batch":
        """A new batch with some fields replaced or added (same generator)."""
        return Batch(fields={**self.fields, **fields}, generator=self.generator)

    def chunk(self, k: int) -> list["Batch"]:
        """Split every field along the batch axis into k micro-batches (gradient accumulation)."""
        if k == 1:
            return [self]
        parts = {n: v.chunk(k, 0) for n, v in self.fields.items()}
        m = min(len(p) for p in parts.values())
        return [Batch(fields={n: p[i] for n, p in parts.items()}, generator=self.generator) for i in range(m)]

    def to(self, device) -> "Batch":
        return Batch(fields={n: v.to(device) for n, v in self.fields.items()}, generator=self.generator)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}={tuple(v.shape)}" for n, v in self.fields.items())
        return f"Batch({shapes})"


__all__ = ["KINDS", "Normalizer", "FieldSpec", "DataInfo", "Batch", "image_spec", "label_spec"]
