"""Array datasets from `.npy`/`.npz` files: images, physical fields or vectors, with their units.

Shapes: N x H x W (one channel), N x C x H x W or N x H x W x C (`data.layout=auto|nchw|nhwc`; auto reads
NHWC when the last axis has at most 4 entries and axis 1 has more; when both have at most 4 it takes the
reading that gives square images if only one does, and otherwise refuses),
or N x D vectors. `.npz`: the examples are key `x` (else the first array), optional labels `y`; keys
`train` *and* `test` (with `y_train`/`y_test`) give explicit splits (`all` = both). Otherwise a fixed
seeded 90/10 split (`all` = every row). Files are read with `allow_pickle=False`.

What the values become (stored tensors are in data space; the spec's normaliser maps them to model space):
- uint8: 8-bit images (scale 255, 256 levels); uint16: 16-bit images (scale 65535, 65536 levels).
- float (and other integer) arrays whose values all lie in [0, 1]: images used as they are (identity
  normaliser), e.g. images saved by `genlab sample --out x.npy`.
- other float/integer arrays: physical fields (kind "field"; "vector" for N x D), standardised per channel
  with the mean and std of the *training* rows (the same normaliser for every split), units from
  `data.units`, so outputs map back to data units with `spec.normalizer.to_data`.
- NaN: refused unless `data.gaps=mask`, which adds the validity mask field `x_valid` (kind "mask", uint8,
  1 = observed; the x spec's `valid`) and stores the gaps as the normaliser offset (0 in model space).
  The mask exists when the file has any NaN. inf is always refused.
- complex, bool, string, object, structured or datetime arrays are refused with the conversion to use.
- `data.periodic=x|y|xy` (fields): the field wraps around along W (x), H (y) or both (FieldSpec.periodic;
  models pad periodically there). It is checked: across the seam the values must continue like they do
  between neighbours — rms(x[..., 0] − x[..., −1]) ≤ 4 · rms of the neighbour differences along that axis
  (white noise passes, as it should; a regional crop or a gradient fails), and a last column that repeats
  the first (a closed grid such as 0° … 360°) is refused with the fix (drop it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from ..fields import FieldSpec, Normalizer, label_spec
from ..registry import DATASETS
from .base import FieldDataset

LAYOUTS = ("auto", "nchw", "nhwc")
GAPS = ("error", "mask")
PERIODIC = {"none": (), "x": (2,), "y": (1,), "xy": (1, 2)}
SEAM_RATIO = 4.0  # largest allowed rms jump across a periodic seam, in units of the rms neighbour difference


def check_periodic(x: np.ndarray, axes: tuple[int, ...], path) -> None:
    """Refuse a periodic axis (of the (C, H, W) examples of x, (N, C, H, W)) that does not wrap (see above)."""
    names = {1: ("y", "rows"), 2: ("x", "columns")}
    for ax in axes:
        dim = ax + 1  # (C, H, W) axis -> (N, C, H, W) dim
        first, last = np.take(x, 0, axis=dim), np.take(x, -1, axis=dim)
        ok = ~(np.isnan(first) | np.isnan(last))
        if ok.any() and np.array_equal(first[ok], last[ok]):
            raise GenlabError(f"{path}: data.periodic={names[ax][0]} but the last {names[ax][1][:-1]} repeats the first "
                              f"(a closed grid, e.g. 0 ... 360 degrees): drop the last {names[ax][1][:-1]} of every field")
        seam = np.sqrt(np.nanmean((first - last) ** 2))
        inner = np.sqrt(np.nanmean(np.diff(x, axis=dim) ** 2))
        if np.isfinite(seam) and seam > SEAM_RATIO * max(inner, 1e-30):
            raise GenlabError(f"{path}: data.periodic={names[ax][0]} but the field does not wrap: the jump between the "
                              f"last and first {names[ax][1]} is {seam / max(inner, 1e-30):.1f}x the typical neighbour "
                              f"difference (at most {SEAM_RATIO:g}x); drop data.periodic={names[ax][0]} or give the whole "
                              "periodic domain")


def _read(path: Path) -> dict[str, tuple[np.ndarray, Optional[np.ndarray]]]:
    """{"train": (x, y), "test": (x, y)} for .npz files with explicit splits, else {"all": (x, y)}."""
    try:
        if path.suffix == ".npy":
            return {"all": (np.load(path, allow_pickle=False), None)}
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            if not keys:
                raise GenlabError(f"{path} holds no arrays")
            if "train" in keys and "test" in keys:
                return {s: (z[s], z[f"y_{s}"] if f"y_{s}" in keys else None) for s in ("train", "test")}
            x = z["x"] if "x" in keys else z[keys[0]]
            return {"all": (x, z["y"] if "y" in keys else None)}
    except ValueError as e:
        raise GenlabError(f"cannot read {path} without pickle ({e}); save plain numeric arrays") from None
    except (OSError, EOFError) as e:
        raise GenlabError(f"cannot read {path} ({e}); give a valid .npy/.npz file") from None


def _check_dtype(x: np.ndarray, path: Path) -> None:
    k = x.dtype.kind
    if k == "c":
        raise GenlabError(f"{path} holds complex values ({x.dtype}); save real and imaginary parts as two "
                          "channels, e.g. np.stack([x.real, x.imag], axis=1)")
    if k == "b":
        raise GenlabError(f"{path} holds booleans; save them as numbers, e.g. x.astype(np.uint8)")
    if k not in "uif":
        raise GenlabError(f"{path} has non-numeric dtype {x.dtype}; save a plain integer or float array")


def _layout(shape: tuple[int, ...], layout: str, path: Path) -> str:
    """'nchw' or 'nhwc' for a 4-D array of `shape`."""
    if layout != "auto":
        return layout
    a1, a3 = shape[1], shape[3]
    if a1 <= 4 and a3 <= 4:
        square_nchw, square_nhwc = shape[2] == shape[3], shape[1] == shape[2]
        if square_nchw != square_nhwc:  # only one reading gives square images: take it
            return "nchw" if square_nchw else "nhwc"
        raise GenlabError(f"{path} has shape {shape}: axis 1 ({a1}) and the last axis ({a3}) could both be "
                          "channels; pass --data.layout=nchw or --data.layout=nhwc")
    return "nhwc" if a3 <= 4 else "nchw"


def _shape(x: np.ndarray, layout: str, path: Path) -> np.ndarray:
    """(N, C, H, W) or (N, D)."""
    if x.ndim == 3:
        return x[:, None]  # (N, H, W) -> (N, 1, H, W)
    if x.ndim == 4:
        if _layout(x.shape, layout, path) == "nhwc":
            return x.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        return x
    if x.ndim == 2:
        return x
    raise GenlabError(f"{path} has shape {x.shape}; expected N x H x W, N x C x H x W, N x H x W x C or N x D")


def _standardiser(x: np.ndarray, valid: Optional[np.ndarray], units: str, path: Path) -> Normalizer:
    """Per-channel (axis 1) mean and std of the observed values of x (N, C, ...) in float64."""
    axes = tuple(a for a in range(x.ndim) if a != 1)
    v = np.ones(x.shape, bool) if valid is None else valid
    n = v.sum(axis=axes)
    if (n == 0).any():
        raise GenlabError(f"{path}: channel {int(np.argmin(n))} has no observed (non-NaN) training value")
    xv = np.where(v, x, 0).astype(np.float64)
    mean = xv.sum(axis=axes) / n
    shape = [1] * x.ndim
    shape[1] = -1
    var = (np.where(v, xv - mean.reshape(shape), 0) ** 2).sum(axis=axes) / n
    std = np.sqrt(var)
    std = np.where(std > 0, std, 1.0)  # a constant channel is only centred
    if len(set(mean.tolist())) == 1 and len(set(std.tolist())) == 1:
        mean, std = mean[:1], std[:1]
    return Normalizer(tuple(mean.tolist()), tuple(std.tolist()), units)


def load_array(path: str, split: str = "all", layout: Optional[str] = None, gaps: Optional[str] = None,
               units: Optional[str] = None, periodic: Optional[str] = None) -> FieldDataset:
    p = Path(path)
    if not p.is_file() or p.suffix not in (".npy", ".npz"):
        raise GenlabError(f"array file {path!r} not found or not .npy/.npz; give an existing .npy/.npz file")
    layout, gaps = (layout or "auto").lower(), (gaps or "error").lower()
    if layout not in LAYOUTS:
        raise GenlabError(f"data.layout={layout!r} is invalid; use auto, nchw or nhwc")
    if gaps not in GAPS:
        raise GenlabError(f"data.gaps={gaps!r} is invalid; use error (refuse NaNs) or mask (NaNs become x_valid)")
    periodic = (periodic or "none").lower()
    if periodic not in PERIODIC:
        raise GenlabError(f"data.periodic={periodic!r} is invalid; use none, x (W wraps), y (H wraps) or xy")
    parts = _read(p)
    for x, _ in parts.values():
        _check_dtype(x, p)
    parts = {s: (_shape(x, layout, p), y) for s, (x, y) in parts.items()}
    shapes = {tuple(x.shape[1:]) for x, _ in parts.values()}
    if len(shapes) > 1:
        raise GenlabError(f"{path}: the train and test arrays have different example shapes {sorted(shapes)}")
    for x, y in parts.values():
        if len(x) == 0:
            raise GenlabError(f"{path} holds no examples")
        if y is not None and len(y) != len(x):
            raise GenlabError(f"{path}: {len(x)} examples but {len(y)} labels")
    # the split's rows and the training rows (whose statistics fix the normaliser for every split)
    if "all" in parts:
        x_all, y_all = parts["all"]
        n = len(x_all)
        order, train = _order(n, split), _order(n, "train")
        if split == "all":
            x, y = x_all, y_all
        else:
            x, y = x_all[order], None if y_all is None else y_all[order]
        x_train = x_all[train]
        everything = [x_all]
    else:
        if split == "all":
            x = np.concatenate([parts["train"][0], parts["test"][0]])
            ys = [parts[s][1] for s in ("train", "test")]
            y = None if any(v is None for v in ys) else np.concatenate(ys)
        else:
            x, y = parts[split]
        x_train, everything = parts["train"][0], [parts["train"][0], parts["test"][0]]
    meta = {"path": str(path)}
    dtype = x.dtype
    if dtype in (np.uint8, np.uint16):
        levels = 256 if dtype == np.uint8 else 65536
        xt = torch.from_numpy(np.ascontiguousarray(x if dtype == np.uint8 else x.astype(np.int32)))
        spec = FieldSpec(tuple(xt.shape[1:]), "image" if xt.dim() == 4 else "vector", levels,
                         Normalizer((0.0,), (float(levels - 1),)))
        tensors, specs = {"x": xt}, {"x": spec}  # integer arrays have no gaps: no mask field
    else:
        tensors, specs, info = _floats(x, x_train, everything, gaps, units or "", p)
        meta.update(info)
    if PERIODIC[periodic]:
        spec = specs["x"]
        if spec.kind != "field":
            raise GenlabError(f"data.periodic={periodic} is for physical fields (N x C x H x W floats), but {path} "
                              f"holds {spec.kind} data; drop data.periodic")
        for a in everything:
            check_periodic(a.astype(np.float32), PERIODIC[periodic], p)
        specs["x"] = FieldSpec(spec.shape, spec.kind, spec.levels, spec.normalizer, PERIODIC[periodic],
                               valid=spec.valid)
        if "x_valid" in specs:
            specs["x_valid"] = FieldSpec(spec.shape, "mask", periodic=PERIODIC[periodic])
    yt = None if y is None else torch.from_numpy(np.asarray(y).astype(np.int64))
    if yt is not None:
        n_classes = int(max(int(v[1].max()) for v in parts.values() if v[1] is not None and len(v[1]))) + 1
        tensors["y"], specs["y"] = yt, label_spec(n_classes)
    return FieldDataset("array", split, tensors, specs, meta=meta)


def _order(n: int, split: str) -> np.ndarray:
    """Row indices of a split: the fixed seeded 90/10 split of the rows (`all` = every row in order)."""
    if split == "all":
        return np.arange(n)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0)).numpy()
    n_test = max(1, n // 10) if n > 1 else 0
    return perm[:n_test] if split == "test" else perm[n_test:]


def _floats(x: np.ndarray, x_train: np.ndarray, everything: list[np.ndarray], gaps: str, units: str,
            path: Path) -> tuple[dict, dict, dict]:
    """Tensors and specs of a float (or non-8/16-bit integer) array: an image in [0, 1] or a field."""
    x, x_train = x.astype(np.float32), x_train.astype(np.float32)
    n_nan = n_inf = 0
    lo, hi = np.inf, -np.inf
    for a in everything:  # the kind and the mask are facts of the whole file, the same for every split
        a = a.astype(np.float32) if a.dtype != np.float32 else a
        n_inf += int(np.isinf(a).sum())
        nan = np.isnan(a)
        n_nan += int(nan.sum())
        if not nan.all():
            lo, hi = min(lo, float(np.nanmin(a))), max(hi, float(np.nanmax(a)))
    if n_inf:
        raise GenlabError(f"{path} contains {n_inf} inf value(s); replace them with finite values (or NaN "
                          "with --data.gaps=mask to mark them as gaps)")
    if n_nan and gaps != "mask":
        total = sum(a.size for a in everything)
        raise GenlabError(f"{path} contains {n_nan} NaN value(s) ({100 * n_nan / total:.3g} % of the entries); "
                          "fill them first, or pass --data.gaps=mask to train only where observed "
                          "(NaNs become the validity mask x_valid)")
    if not np.isfinite(lo):
        raise GenlabError(f"{path} holds only NaN values")
    valid = ~np.isnan(x) if n_nan else None
    shape = tuple(x.shape[1:])
    spatial = len(shape) == 3
    if lo >= 0.0 and hi <= 1.0:
        norm, kind = Normalizer((0.0,), (1.0,), units), "image" if spatial else "vector"
    else:
        norm = _standardiser(x_train, ~np.isnan(x_train) if n_nan else None, units, path)
        kind = "field" if spatial else "vector"
    info: dict = {"units": units}
    if valid is not None:
        fill = np.asarray(norm.offset, np.float32).reshape([1, -1] + [1] * (x.ndim - 2))  # (1, C, 1, 1)
        x = np.where(valid, x, fill).astype(np.float32)
        info["observed_fraction"] = float(valid.mean())
    spec = FieldSpec(shape, kind, None, norm, valid="x_valid" if valid is not None else None)
    tensors, specs = {"x": torch.from_numpy(np.ascontiguousarray(x))}, {"x": spec}
    if valid is not None:
        tensors["x_valid"] = torch.from_numpy(np.ascontiguousarray(valid.astype(np.uint8)))
        specs["x_valid"] = FieldSpec(shape, "mask")
    return tensors, specs, info


@DATASETS.register("array", splits=("train", "test", "all"), options=("path", "layout", "gaps", "units", "periodic"),
                   help="a .npy/.npz array of images, fields or vectors (data.path=FILE, data.layout=auto|nchw|nhwc, "
                        "data.gaps=error|mask, data.units=UNITS, data.periodic=none|x|y|xy)")
def load(split: str, path: Optional[str] = None, layout: Optional[str] = None, gaps: Optional[str] = None,
         units: Optional[str] = None, periodic: Optional[str] = None) -> FieldDataset:
    if not path:
        raise GenlabError("dataset 'array' needs data.path=FILE (.npy or .npz)")
    return load_array(path, split, layout, gaps, units, periodic)
