"""Sequences as fields (kind `sequence` or `tokens`) with a validity mask, and the `series` dataset.

Every sequence dataset stores examples of one fixed length T (`data.length`) so that batches are index
gathers like every other dataset:

    x        (N, T, D) kind "sequence" (piano rolls: D = 88 keys, levels 2; real series: D channels,
             standardised, no levels)  or  (N, T) kind "tokens" (levels = vocabulary size)
    x_valid  (N, T) kind "mask": 1 for the real steps of an example, 0 for the padding after its end

A piece longer than T is cut into consecutive chunks of T steps (each chunk is an example: its first step
is predicted from nothing, so the likelihood of a long piece is that of its chunks); a shorter one is
padded with zeros and masked. `x`'s spec names `x_valid` in `valid`, and models score only valid steps.

`series`: the area mean (cos-latitude weighted) of a gridded monthly variable as a 1-D real sequence —
by default the FNOC Navy zonal wind `uwnd` (M/S, 1982..1992, 132 months) of Debian's ferret-datasets,
or any netCDF file (`data.path`, `data.var`), optionally over `data.region`. Split by time as the gridded
datasets (test = the last 20 % of months); train examples are every window of T months (stride 1),
test examples consecutive windows (stride T, the last one padded). Standardised by the training months.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from ..errors import GenlabError
from ..fields import FieldSpec, Normalizer
from ..registry import DATASETS
from .base import Derivation, FieldDataset


def chunks(example: np.ndarray, length: int) -> list[np.ndarray]:
    """Consecutive pieces of at most `length` steps (the first axis)."""
    return [example[i:i + length] for i in range(0, max(len(example), 1), length)]


def pad_examples(examples: Sequence[np.ndarray], length: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """(N, T, ...) zero-padded stack and its (N, T) uint8 validity mask; examples longer than T are cut into
    chunks first (`chunks`)."""
    parts = [c for e in examples for c in chunks(np.asarray(e), length) if len(c)]
    if not parts:
        return np.zeros((0, length), dtype), np.zeros((0, length), np.uint8)
    tail = parts[0].shape[1:]
    x = np.zeros((len(parts), length, *tail), dtype)
    valid = np.zeros((len(parts), length), np.uint8)
    for i, p in enumerate(parts):
        x[i, :len(p)] = p
        valid[i, :len(p)] = 1
    return x, valid


def sequence_dataset(name: str, split: str, x: np.ndarray, valid: np.ndarray, spec: FieldSpec, *,
                     meta: dict, derived: tuple[Derivation, ...] = ()) -> FieldDataset:
    """A FieldDataset of sequences x (N, T[, D]) with the mask x_valid (N, T)."""
    if len(x) == 0:
        raise GenlabError(f"dataset {name}:{split} has no pieces; use another split or more data")
    tensors = {"x": torch.from_numpy(np.ascontiguousarray(x)), "x_valid": torch.from_numpy(valid)}
    specs = {"x": spec, "x_valid": FieldSpec((x.shape[1],), "mask")}
    meta = {**meta, "steps": int(valid.sum()), "examples": int(len(x))}
    return FieldDataset(name, split, tensors, specs, derived=derived, meta=meta)


def length_option(length, default: int) -> int:
    value = default if length is None else length
    if isinstance(value, bool) or int(value) != value or int(value) < 2:
        raise GenlabError(f"data.length={length!r} is invalid; give the number of steps per example (>= 2)")
    return int(value)


# --- a real 1-D series ------------------------------------------------------------------------------

SERIES_SPLITS = ("train", "test", "all")


def area_mean(x: np.ndarray, lat: Optional[Sequence[float]]) -> np.ndarray:
    """(T, C, H, W) -> (T, C): mean over the grid weighted by cos(latitude) (uniform without latitudes),
    over observed (finite) values only."""
    w = np.ones(x.shape[2]) if lat is None else np.cos(np.deg2rad(np.asarray(lat, np.float64)))
    weights = np.broadcast_to(w[None, None, :, None], x.shape)
    ok = np.isfinite(x)
    num = np.where(ok, x, 0.0) * weights
    den = (weights * ok).sum((2, 3))
    return num.sum((2, 3)) / np.maximum(den, 1e-12)


@DATASETS.register("series", splits=SERIES_SPLITS, options=("var", "path", "region", "length"),
                   help="a monthly climate series: area mean of FNOC Navy winds (data.var=uwnd|vwnd, M/S, "
                        "1982-1992) or of any netCDF variable (data.path, data.var); windows of data.length months")
def series(split: str, var: Optional[str] = None, path: Optional[str] = None, region=None,
           length: Optional[int] = None) -> FieldDataset:
    from .climate import ferret_file
    from .netcdf import load_netcdf

    length = length_option(length, 24)
    source = path or ferret_file("monthly_navy_winds.cdf")
    grid = load_netcdf(source, var or "uwnd", split="all", region=region, name="series")
    lat = (grid.meta["coords"].get("lat") or {}).get("values")
    values = grid.tensors["x"].numpy().astype(np.float64)
    if "x_valid" in grid.tensors:
        values = np.where(grid.tensors["x_valid"].numpy() > 0, values, np.nan)
    s = area_mean(values, lat)  # (T, C)
    n = len(s)
    n_test = max(1, int(round(0.2 * n)))
    if n - n_test < length + 1:
        raise GenlabError(f"the series has {n} steps, too few for windows of data.length={length}; use a shorter "
                          "length")
    train, test = s[:n - n_test], s[n - n_test:]
    mean, std = train.mean(0), train.std(0)
    norm = Normalizer(tuple(mean.tolist()), tuple(np.maximum(std, 1e-12).tolist()), grid.meta.get("units", ""))
    if split == "train":
        windows = [train[i:i + length] for i in range(len(train) - length + 1)]
    elif split == "test":
        windows = chunks(test, length)
    else:
        windows = chunks(s, length)
    x, valid = pad_examples([w.astype(np.float32) for w in windows], length, np.float32)
    x = np.where(valid[..., None] > 0, x, np.asarray(mean, np.float32))  # padding at the offset: 0 in model space
    spec = FieldSpec((length, s.shape[1]), "sequence", None, norm, valid="x_valid",
                     channels=tuple(grid.meta.get("variable", "x").split(",")))
    rule = (f"by time: test = the last {n_test} of {n} steps; train = every window of {length} steps of the "
            f"first {n - n_test} (stride 1), test = consecutive windows (stride {length}, the last padded)")
    meta = {"source": str(source), "variable": grid.meta.get("variable"), "units": grid.meta.get("units"),
            "long_name": f"area mean of {grid.meta.get('long_name')}", "split_rule": rule,
            "sequence": {"repr": "series", "step": "1 time step of the file (months for navy winds)"}}
    return sequence_dataset("series", split, x.astype(np.float32), valid, spec, meta=meta)
