"""Gridded netCDF variables (netCDF3 or netCDF4, read with xarray) as field datasets, and writing back.

`load_netcdf(path, "sst", split="train")` gives a `FieldDataset` whose `x` is (N, C, H, W) float32 in the
file's *data units* (`units` attribute, unchanged: "Deg C", "K", "M/S"): N examples along the time axis
(one example if there is none), C variables (`var="uwnd,vwnd"` stacks two), H = latitude and W = longitude
in file order (latitude order recorded, never flipped).

Axes are recognised from CF attributes (`axis`, `units` "… since …" / degrees_north / degrees_east,
`standard_name`, `positive`) or usual names; a depth/height/pressure axis is reduced to one level
(`level`: a coordinate value such as 100 for 100 m, or `#3` for the 0-based index; default the first).
Missing values (_FillValue, missing_value, valid_min/max/range, NaN, inf) become the mask field `x_valid`
(kind "mask", (C, H, W) uint8, 1 = observed) named by the x spec's `valid`; in storage they are filled with
the normaliser offset, so gaps are 0 in model space. Without gaps there is no mask field. The normaliser
standardises each channel with the mean and std of the *observed training* values, for every split.

Longitude: a repeated wrap-around column (last ≡ first mod 360, same values) is dropped; the longitude
axis is periodic (spec `periodic=(2,)`) when the evenly spaced columns span 360°. `region=(lat0, lat1,
lon0, lon1)` keeps a box (longitudes in any convention; a box across the file's seam is reordered and
given longitudes from lon0 upward). `size=S` cuts every field into non-overlapping S×S tiles (the
remainder dropped, tiles without any observation dropped); each tile is an example.

Splits (deterministic, documented in meta["split_rule"]): with T ≥ 2 time steps, `test` = the last
`time_split` fraction of the steps (default 0.2, at least one, rounded) or the 0-based steps listed in
`time_split`; `train` = the rest; `all` = every step. A single field cut into tiles: `test` = the tiles in
the last 20 % of tile columns (the eastern strip in file order). A single field without tiles is the one
example of every split.

`meta` (JSON-serialisable) has source, variable, long_name, units, observed_fraction (of this split),
split_rule and `coords` (lat/lon values, time values with units, calendar and ISO strings where the
calendar decodes, level, tiles) — enough for `write_netcdf` to write outputs on the input's grid.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from ..errors import GenlabError
from ..fields import FieldSpec, Normalizer
from .base import FieldDataset

INSTALL = "pip install xarray netCDF4"
SPLITS = ("train", "test", "all")
LAT_UNITS = {"degrees_north", "degree_north", "degrees_n", "degree_n", "degreesn", "degreen"}
LON_UNITS = {"degrees_east", "degree_east", "degrees_e", "degree_e", "degreese", "degreee"}
Z_NAMES = {"depth", "lev", "level", "z", "plev", "height", "altitude", "pressure", "air_pressure"}


def _xarray():
    try:
        import netCDF4  # noqa: F401  (the engine for netCDF3 and netCDF4 files)
        import xarray as xr
    except ImportError:
        raise GenlabError(f"reading and writing netCDF needs xarray and netCDF4; install them: {INSTALL}") from None
    return xr


def open_dataset(path: str | Path):
    """The file as an xarray Dataset with masking applied and times left as numbers."""
    xr = _xarray()
    p = Path(path)
    if not p.is_file():
        raise GenlabError(f"netCDF file {str(p)!r} not found; give an existing .nc/.cdf file as data.path")
    try:
        return xr.open_dataset(p, decode_times=False, mask_and_scale=True, engine="netcdf4")
    except (OSError, ValueError, RuntimeError) as e:
        raise GenlabError(f"cannot read {p} as netCDF ({e}); give a netCDF3 or netCDF4 file") from None


def gridded_variables(ds) -> list[str]:
    """Names of the data variables with at least two dimensions (the ones that can be loaded)."""
    return [str(v) for v in ds.data_vars if ds[v].ndim >= 2]


def _find_vars(ds, var: str, path) -> list[str]:
    names = {str(v).lower(): str(v) for v in ds.data_vars}
    wanted = [v.strip() for v in str(var).split(",") if v.strip()]
    out = []
    for w in wanted:
        v = w if w in ds.data_vars else names.get(w.lower())
        if v is None or ds[v].ndim < 2:
            raise GenlabError(f"variable {w!r} is not a gridded variable of {path}; data.var is one of: "
                              f"{', '.join(gridded_variables(ds)) or 'none'}")
        out.append(v)
    if not out:
        raise GenlabError(f"give data.var, one of the variables of {path}: {', '.join(gridded_variables(ds))}")
    return out


def _axis(ds, dim: str) -> str:
    """'T', 'Z', 'Y', 'X' or '' for one dimension, from its coordinate's CF attributes or its name."""
    attrs = dict(ds[dim].attrs) if dim in ds.variables else {}
    axis = str(attrs.get("axis", "")).upper()
    if axis in ("T", "Z", "Y", "X"):
        return axis
    units = str(attrs.get("units", "")).lower().replace(" ", "")
    std, name = str(attrs.get("standard_name", "")).lower(), dim.lower()
    if "since" in units or std == "time" or name in ("time", "t"):
        return "T"
    if units in LAT_UNITS or std in ("latitude", "grid_latitude") or name in ("lat", "latitude", "y", "rlat"):
        return "Y"
    if units in LON_UNITS or std in ("longitude", "grid_longitude") or name in ("lon", "longitude", "x", "rlon"):
        return "X"
    if "positive" in attrs or std in Z_NAMES or name in Z_NAMES:
        return "Z"
    return ""


def _classify(ds, var: str) -> dict[str, Optional[str]]:
    """{'T', 'Z', 'Y', 'X'} -> dimension name (or None) of a variable; size-1 extras are squeezed later."""
    dims = list(ds[var].dims)
    kinds = {d: _axis(ds, d) for d in dims}
    found: dict[str, Optional[str]] = {k: None for k in "TZYX"}
    for d in dims:
        k = kinds[d]
        if k and found[k] is None:
            found[k] = d
        elif k:
            kinds[d] = ""  # a second axis of the same kind is treated as unknown
    if found["Y"] is None or found["X"] is None:  # no recognisable grid: the last two free dims
        free = [d for d in dims if kinds[d] in ("", "Y", "X")]
        if len(free) < 2:
            raise GenlabError(f"variable {var!r} has dims {tuple(dims)}; no latitude/longitude pair found")
        found["Y"], found["X"] = free[-2], free[-1]
    for d in dims:
        if d in found.values() or ds.sizes[d] == 1:
            continue
        if found["T"] is None:  # an unnamed leading axis: its entries are the examples
            found["T"] = d
        elif found["Z"] is None:
            found["Z"] = d
        else:
            raise GenlabError(f"variable {var!r} has dims {tuple(dims)}; cannot tell which one lists "
                              "examples (time) and which one levels; select the others first")
    return found


def _coord(ds, dim: Optional[str]) -> Optional[np.ndarray]:
    return None if dim is None or dim not in ds.variables else np.asarray(ds[dim].values, dtype=np.float64)


def _select_level(ds, dim: Optional[str], level) -> tuple[int, Optional[dict]]:
    """The index of the requested level (default 0) and its description for meta."""
    if dim is None:
        if level is not None:
            raise GenlabError(f"data.level={level!r} given, but the variable has no level axis; drop it")
        return 0, None
    values, n = _coord(ds, dim), ds.sizes[dim]
    s = "" if level is None else str(level).strip()
    if s == "":
        i = 0
    elif s.startswith("#"):
        try:
            i = int(s[1:])
        except ValueError:
            i = -1
        if not 0 <= i < n:
            raise GenlabError(f"data.level={s} is not a level index of {dim!r}; use #0 .. #{n - 1}")
    else:
        hits = [] if values is None else [j for j, v in enumerate(values) if _same(v, s)]
        if not hits:
            shown = ", ".join(f"{v:g}" for v in values) if values is not None else "none"
            raise GenlabError(f"data.level={s} is not a value of {dim!r} (values: {shown}); give one of them "
                              f"or an index #0 .. #{n - 1}")
        i = hits[0]
    attrs = dict(ds[dim].attrs) if dim in ds.variables else {}
    return i, {"name": dim, "index": i, "value": None if values is None else float(values[i]),
               "units": str(attrs.get("units", "")), "positive": str(attrs.get("positive", ""))}


def _same(v: float, s: str) -> bool:
    try:
        x = float(s)
    except ValueError:
        raise GenlabError(f"data.level={s!r} is neither a number nor an index like #3") from None
    return abs(v - x) <= 1e-6 * max(1.0, abs(x))


def _wraps(lon: np.ndarray) -> bool:
    """Evenly spaced longitudes covering exactly 360° (after any duplicate column was dropped)."""
    if lon is None or len(lon) < 3:
        return False
    d = np.diff(lon)
    step = float(np.median(d))
    if step <= 0 or np.abs(d - step).max() > 0.01 * step:
        return False
    return abs(len(lon) * step - 360.0) < 0.05 * step


def _region_index(lat, lon, region) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """Row and column indices of the box (lat0, lat1, lon0, lon1), the box's longitudes, and the box."""
    if lat is None or lon is None:
        raise GenlabError("data.region needs latitude/longitude coordinates, which this variable lacks")
    try:
        box = [float(v) for v in region.strip("[]() ").split(",")] if isinstance(region, str) else region
        lat0, lat1, lon0, lon1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise GenlabError(f"data.region={region!r} is invalid; give lat0,lat1,lon0,lon1 in degrees") from None
    lo, hi = min(lat0, lat1), max(lat0, lat1)
    rows = np.nonzero((lat >= lo - 1e-6) & (lat <= hi + 1e-6))[0]
    width = (lon1 - lon0) % 360.0 or (360.0 if lon1 != lon0 else 0.0)
    offset = (lon - lon0) % 360.0
    cols = np.nonzero(offset <= width + 1e-6)[0]
    cols = cols[np.argsort(offset[cols], kind="stable")]  # contiguous from lon0 eastward
    if len(rows) == 0 or len(cols) == 0:
        raise GenlabError(f"data.region={region!r} holds no grid point (latitudes {lat.min():g}..{lat.max():g},"
                          f" longitudes {lon.min():g}..{lon.max():g})")
    return rows, cols, lon0 + offset[cols], [lat0, lat1, lon0, lon1]


def _time_info(ds, dim: Optional[str], steps: np.ndarray) -> Optional[dict]:
    if dim is None:
        return None
    attrs = dict(ds[dim].attrs) if dim in ds.variables else {}
    raw = _coord(ds, dim)
    values = (raw[steps] if raw is not None else steps.astype(np.float64)).tolist()
    units, calendar = str(attrs.get("units", "")), attrs.get("calendar")
    iso = None
    if "since" in units:
        try:
            import cftime

            iso = [d.isoformat() for d in cftime.num2date(values, units, str(calendar or "standard"))]
        except (ImportError, ValueError, TypeError):
            iso = None  # e.g. Ferret climatologies count from year 0 in the standard calendar
    return {"name": dim, "values": values, "units": units, "calendar": None if calendar is None else str(calendar),
            "iso": iso,
            "index": [int(i) for i in steps]}


def split_steps(n: int, split: str, time_split: float | Sequence[int] = 0.2) -> tuple[np.ndarray, np.ndarray, str]:
    """(train steps, steps of `split`, rule) for n ≥ 2 time steps; see the module docstring."""
    if isinstance(time_split, (int, float)) and not isinstance(time_split, bool):
        if not 0 < float(time_split) < 1:
            raise GenlabError(f"time_split={time_split!r} must be a fraction in (0, 1)")
        k = min(n - 1, max(1, int(round(float(time_split) * n))))
        test = np.arange(n - k, n)
        rule = f"test = the last {k} of {n} time steps ({float(time_split):.0%}), train = the first {n - k}"
    else:
        test = np.array(sorted({int(i) for i in time_split}), dtype=np.int64)
        if len(test) == 0 or test.min() < 0 or test.max() >= n or len(test) >= n:
            raise GenlabError(f"test steps {list(time_split)} must be distinct indices in 0..{n - 1}, not all")
        rule = f"test = time steps {test.tolist()} (0-based) of {n}, train = the other {n - len(test)}"
    train = np.setdiff1d(np.arange(n), test)
    return train, {"train": train, "test": test, "all": np.arange(n)}[split], rule


def _tiles(x: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, C, H, W) -> (T·nh·nw, C, S, S) non-overlapping tiles in raster order, and their (t, row, col)."""
    t, c, h, w = x.shape
    if size > h or size > w:
        raise GenlabError(f"data.size={size} is larger than the field ({h} x {w}); give at most {min(h, w)}")
    nh, nw = h // size, w // size
    x = x[:, :, :nh * size, :nw * size].reshape(t, c, nh, size, nw, size)  # (T, C, nh, S, nw, S)
    x = x.transpose(0, 2, 4, 1, 3, 5).reshape(t * nh * nw, c, size, size)  # (T·nh·nw, C, S, S)
    tt, ii, jj = np.meshgrid(np.arange(t), np.arange(nh) * size, np.arange(nw) * size, indexing="ij")
    return x, np.stack([tt.ravel(), ii.ravel(), jj.ravel()], 1)


def _standardiser(x: np.ndarray, valid: np.ndarray, units: str, what: str) -> Normalizer:
    """Per-channel mean/std of the observed values of x (N, C, H, W)."""
    offset, scale = [], []
    for c in range(x.shape[1]):
        v = x[:, c][valid[:, c]].astype(np.float64)
        if v.size == 0:
            raise GenlabError(f"{what}: channel {c} has no observed training value; choose another region")
        sd = float(v.std())
        offset.append(float(v.mean()))
        scale.append(sd if sd > 0 and math.isfinite(sd) else 1.0)
    return Normalizer(tuple(offset), tuple(scale), units)


def _read(ds, names: list[str], axes: dict, level_i: int) -> np.ndarray:
    """(T, C, H, W) float32 of the variables (T = 1 without a time axis), NaN where missing."""
    chans = []
    for v in names:
        a = ds[v]
        if axes["Z"] is not None:
            a = a.isel({axes["Z"]: level_i})
        a = a.squeeze([d for d in a.dims if d not in (axes["T"], axes["Y"], axes["X"])], drop=True)
        order = [d for d in (axes["T"], axes["Y"], axes["X"]) if d is not None]
        vals = np.asarray(a.transpose(*order).values, dtype=np.float32)
        if axes["T"] is None:
            vals = vals[None]
        lo, hi = _valid_range(a.attrs)
        bad = ~np.isfinite(vals)
        if lo is not None:
            bad |= vals < lo
        if hi is not None:
            bad |= vals > hi
        vals[bad] = np.nan
        chans.append(vals)
    return np.stack(chans, 1)  # (T, C, H, W)


def _valid_range(attrs) -> tuple[Optional[float], Optional[float]]:
    if "valid_range" in attrs:
        r = np.ravel(attrs["valid_range"]).astype(float)
        return float(r[0]), float(r[-1])
    lo, hi = attrs.get("valid_min"), attrs.get("valid_max")
    return (None if lo is None else float(lo)), (None if hi is None else float(hi))


def load_netcdf(path: str | Path, var: str, *, split: str = "train", time_split: float | Sequence[int] = 0.2,
                size: Optional[int] = None, level: Any = None, region: Any = None, name: str = "netcdf",
                meta: Optional[dict] = None) -> FieldDataset:
    """One or more gridded variables of a netCDF file as a FieldDataset (see the module docstring).

    var: variable name(s), case-insensitive, comma-separated for several channels on one grid.
    split: train | test | all. time_split: test fraction of the time steps, or their 0-based indices.
    size: tile size in grid points (None = whole fields). level: level value or '#index' for 4-D variables.
    region: (lat0, lat1, lon0, lon1) in degrees, or the same as a comma-separated string.
    Returns x (N, C, H, W) float32 in the file's units, plus x_valid (N, C, H, W) uint8 if there are gaps.
    """
    if split not in SPLITS:
        raise GenlabError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    if size is not None and (isinstance(size, bool) or int(size) != size or size < 1):
        raise GenlabError(f"data.size={size!r} must be a positive number of grid points per tile side")
    f = _read_file(path, var, level)
    x, lat, lon, dropped, box = _crop(f["x"], f["lat"], f["lon"], region)
    periodic = _wraps(lon)
    valid = np.isfinite(x)  # (T, C, H, W)
    has_gaps = not bool(valid.all())
    x, valid, train_x, train_v, steps, tiles, rule = _examples(x, valid, f["n_steps"], split, time_split, size)
    if len(x) == 0:
        raise GenlabError(f"no {size}x{size} tile of {path} in split {split!r} has an observed value; "
                          "use a smaller data.size or another region")
    names, units = f["names"], f["units"]
    norm = _standardiser(train_x, train_v, units, f"{path}:{'/'.join(names)}")
    x = np.where(valid, x, np.asarray(norm.offset, np.float32)[None, :, None, None]).astype(np.float32)
    c, h, w = x.shape[1:]
    wraps = (2,) if periodic and w == len(lon) else ()  # a tile does not wrap around
    spec = FieldSpec((c, h, w), "field", normalizer=norm, periodic=wraps, valid="x_valid" if has_gaps else None,
                     channels=tuple(names))
    tensors, specs = {"x": torch.from_numpy(np.ascontiguousarray(x))}, {"x": spec}
    if has_gaps:
        tensors["x_valid"] = torch.from_numpy(np.ascontiguousarray(valid.astype(np.uint8)))
        specs["x_valid"] = FieldSpec((c, h, w), "mask", periodic=wraps, channels=tuple(names))
    t = f["time"]
    order = None if lat is None else "south_to_north" if len(lat) < 2 or lat[-1] > lat[0] else "north_to_south"
    coords = {  # values None: the file has no coordinate variable for that dim
        "lat": {"name": f["dims"]["Y"], "values": None if lat is None else lat.tolist(), "units": f["lat_units"],
                "order": order},
        "lon": {"name": f["dims"]["X"], "values": None if lon is None else lon.tolist(), "units": f["lon_units"],
                "periodic": periodic, "dropped_duplicate": dropped},
        "time": None if t is None else {**t, "values": [t["values"][i] for i in steps], "index": steps.tolist(),
                                        "iso": None if t["iso"] is None else [t["iso"][i] for i in steps]},
        "level": f["level"], "tiles": None if tiles is None else {"size": int(size), "origin": tiles.tolist()},
    }
    info = {"source": str(path), "variable": ",".join(names), "long_name": ",".join(f["long_names"]),
            "units": units, "observed_fraction": float(valid.mean()), "split_rule": rule, "region": box,
            "coords": coords, **(meta or {})}
    return FieldDataset(name, split, tensors, specs, meta=info)


def _read_file(path, var: str, level) -> dict:
    """The variables' values (T, C, H, W) with NaN gaps, their coordinates and attributes."""
    ds = open_dataset(path)
    try:
        names = _find_vars(ds, var, path)
        axes = _classify(ds, names[0])
        for v in names[1:]:
            if _classify(ds, v) != axes:
                raise GenlabError(f"variables {names[0]} and {v} of {path} are not on the same grid; load one")
        level_i, level_meta = _select_level(ds, axes["Z"], level)
        x = _read(ds, names, axes, level_i)  # (T, C, H, W)
        n_steps = x.shape[0] if axes["T"] is not None else 1
        attrs = [dict(ds[v].attrs) for v in names]
        units = [str(a.get("units", "")) for a in attrs]

        def cunits(d):
            return str(ds[d].attrs.get("units", "")) if d in ds.variables else ""

        return {"names": names, "dims": axes, "x": x, "n_steps": n_steps, "level": level_meta,
                "lat": _coord(ds, axes["Y"]), "lon": _coord(ds, axes["X"]),
                "lat_units": cunits(axes["Y"]), "lon_units": cunits(axes["X"]),
                "time": _time_info(ds, axes["T"], np.arange(n_steps)),
                "units": units[0] if len({u.lower() for u in units}) == 1 else ",".join(units),
                "long_names": [str(a.get("long_name") or a.get("standard_name") or v) for a, v in zip(attrs, names)]}
    finally:
        ds.close()


def _crop(x: np.ndarray, lat, lon, region):
    """Drop a repeated wrap-around longitude column, then keep the region's box (if any).

    Returns x (T, C, H, W), lat, lon, whether a column was dropped, and the box as a list (or None).
    """
    dropped = False
    if lon is not None and len(lon) > 3 and abs(lon[-1] - lon[0] - 360.0) < 1e-3 and \
            np.array_equal(x[..., 0], x[..., -1], equal_nan=True):
        x, lon, dropped = x[..., :-1], lon[:-1], True
    box = None
    if region is not None:
        rows, cols, lon, box = _region_index(lat, lon, region)
        x, lat = x[:, :, rows][..., cols], lat[rows]  # (T, C, h, w)
    return x, lat, lon, dropped, box


def _examples(x: np.ndarray, valid: np.ndarray, n_steps: int, split: str, time_split, size: Optional[int]):
    """Cut (T, C, H, W) fields into the split's examples (whole fields or tiles) and the training ones.

    Returns x, valid (N, C, h, w), train_x, train_v, the split's time steps, tile origins (N, 3) as
    (step, row, col) or None, and the split rule.
    """
    if n_steps >= 2:
        train_steps, steps, rule = split_steps(n_steps, split, time_split)
    else:
        train_steps = steps = np.arange(1)
        rule = "single field: it is the one example of every split (give data.size to cut it into tiles)"
    if not size:
        return x[steps], valid[steps], x[train_steps], valid[train_steps], steps, None, rule
    xt, origin = _tiles(x, size)  # (T·nh·nw, C, S, S), (T·nh·nw, 3)
    vt, _ = _tiles(valid, size)
    if n_steps >= 2:
        in_split, in_train = np.isin(origin[:, 0], steps), np.isin(origin[:, 0], train_steps)
    else:
        col = origin[:, 2] // size
        ncols = int(col.max()) + 1
        k = min(ncols - 1, max(1, int(round(0.2 * ncols))))
        test = col >= ncols - k
        everything = np.ones_like(test)
        in_split = {"train": ~test, "test": test, "all": everything}[split] if k else everything
        in_train = ~test if k else everything
        rule = (f"single field in {len(xt)} tiles of {size}x{size}: test = the tiles in the last {k} of {ncols} "
                "tile columns, train = the rest" if k else "single field with one tile column: every split is "
                "all its tiles")
    observed = vt.any((1, 2, 3))  # tiles without a single observation teach nothing
    sel, tr = in_split & observed, in_train & observed
    # time steps of the split, re-indexed so that origin[:, 0] indexes meta's time list
    origin = origin[sel].copy()
    origin[:, 0] = np.searchsorted(steps, origin[:, 0])
    return xt[sel], vt[sel], xt[tr], vt[tr], steps, origin, rule


from .netcdf_write import write_netcdf  # noqa: E402,F401  (re-exported: the reader's counterpart)
