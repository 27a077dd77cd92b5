"""Writing (N, C, H, W) arrays in data units to netCDF4 on the grid of the data they came from (the
counterpart of `netcdf.load_netcdf`: its `meta["coords"]` give lat/lon, time, level and tiles)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import torch

from ..errors import GenlabError
from .netcdf import _xarray


def write_netcdf(path: str | Path, arrays: Mapping[str, Any], meta: Mapping[str, Any], *,
                 units: str | Mapping[str, str] | None = None, long_names: Optional[Mapping[str, str]] = None,
                 time: Optional[bool] = None, force: bool = False) -> Path:
    """Write (N, C, H, W) arrays in data units to a netCDF4 file on the grid recorded in `meta`.

    arrays: name -> array (numpy or torch); float NaN is written as missing (_FillValue 1e20); bool/uint8
        arrays (masks) are written as bytes. C = 1 gives (time|sample, lat, lon); C > 1 adds a `channel` dim.
    meta: a dataset's meta from `load_netcdf` (or a run's data_info.json): its `coords` give lat/lon (with
        units and names), time (values, units, calendar), level (a scalar coordinate) and tiles.
    units: one string for every array, or name -> units (default meta["units"] for floats, "1" for masks).
    time: write the time axis when N equals the number of time steps in meta (None: whenever it does;
        False: never, e.g. for samples, which get a plain `sample` axis).
    Tiles: arrays of tile size with one row per tile in meta get 2-D lat(sample, tile_row) and
        lon(sample, tile_col) (dims sample, tile_row, tile_col).
    The file appears atomically (temp file + rename); an existing file is an error unless force=True.
    """
    xr = _xarray()
    p = Path(path)
    if p.exists() and not force:
        raise GenlabError(f"{p} exists; choose another output path or pass force=True (--force)")
    if not p.parent.is_dir():
        raise GenlabError(f"output directory {str(p.parent)!r} does not exist; create it first")
    if not arrays:
        raise GenlabError("nothing to write: no arrays given")
    coords = dict(meta.get("coords") or {})
    data = {k: _numpy(v, k) for k, v in arrays.items()}
    n, _, h, w = next(iter(data.values())).shape
    if any(a.shape[0] != n or a.shape[2:] != (h, w) for a in data.values()):
        raise GenlabError(f"arrays to write have different shapes: {({k: a.shape for k, a in data.items()})}")
    grid, axis_dims = _out_grid(xr, coords, n, h, w, time)
    out = xr.Dataset(coords=grid)
    for name, a in data.items():
        u = units.get(name) if isinstance(units, Mapping) else units
        is_mask = a.dtype in (np.bool_, np.uint8)
        a = a.astype(np.uint8) if is_mask else a.astype(np.float32)
        vals, vdims = (a[:, 0], axis_dims) if a.shape[1] == 1 else (a, axis_dims[:1] + ("channel",) + axis_dims[1:])
        attrs = {"units": u if u is not None else ("1" if is_mask else str(meta.get("units", "")))}
        ln = (long_names or {}).get(name) or (meta.get("long_name") if name == "x" else None)
        if is_mask:
            attrs.update(long_name=f"{name}: 1 = observed, 0 = missing", flag_values=np.array([0, 1], np.uint8))
        elif ln:
            attrs["long_name"] = str(ln)
        out[name] = xr.Variable(vdims, vals, attrs)
        if not is_mask:
            out[name].encoding["_FillValue"] = np.float32(1e20)
    out.attrs.update(Conventions="CF-1.8", source=str(meta.get("source", "")), history="written by genlab")
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    try:
        out.to_netcdf(tmp, format="NETCDF4", engine="netcdf4")
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def _numpy(a: Any, name: str) -> np.ndarray:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    if a.ndim == 3:
        a = a[:, None]  # (N, 1, H, W)
    if a.ndim != 4:
        raise GenlabError(f"array {name!r} has shape {a.shape}; write (N, C, H, W) or (N, H, W) arrays")
    return a


def _out_grid(xr, coords: dict, n: int, h: int, w: int, time: Optional[bool]) -> tuple[dict, tuple[str, ...]]:
    """Coordinate variables and the dims (example, lat, lon) for arrays of n x h x w."""
    lat, lon, t, lev, tiles = (coords.get(k) for k in ("lat", "lon", "time", "level", "tiles"))
    lat_name, lon_name = (lat or {}).get("name") or "lat", (lon or {}).get("name") or "lon"
    lat_v, lon_v = (lat or {}).get("values"), (lon or {}).get("values")
    grid: dict = {}
    if lev and lev.get("value") is not None:
        grid[lev["name"]] = xr.Variable((), lev["value"], {"units": lev.get("units", ""),
                                                            "positive": lev.get("positive", "")})

    def tcoord(dim, values):
        attrs = {"units": t.get("units", "")} | ({"calendar": t["calendar"]} if t.get("calendar") else {})
        return xr.Variable((dim,), np.asarray(values, np.float64), attrs)

    if tiles and h == w == tiles["size"]:
        origin = np.asarray(tiles["origin"], np.int64)
        if len(origin) == n and time is not False and lat_v is not None and lon_v is not None:
            la, lo = np.asarray(lat_v), np.asarray(lon_v)  # the dataset's own tiles: 2-D coordinates
            rows = origin[:, 1:2] + np.arange(h)  # (N, S)
            cols = origin[:, 2:3] + np.arange(w)  # (N, S)
            grid[lat_name] = xr.Variable(("sample", "tile_row"), la[rows], {"units": lat.get("units", "")})
            grid[lon_name] = xr.Variable(("sample", "tile_col"), lo[cols], {"units": lon.get("units", "")})
            if t:
                grid[t["name"]] = tcoord("sample", np.asarray(t["values"])[origin[:, 0]])
        return grid, ("sample", "tile_row", "tile_col")
    for c, vals, k, name in ((lat, lat_v, h, lat_name), (lon, lon_v, w, lon_name)):
        if vals is None:  # a grid without coordinate values (e.g. curvilinear): plain dims
            continue
        if len(vals) != k:
            raise GenlabError(f"arrays of {h} x {w} do not fit the dataset's grid ({len(lat_v or ())} x "
                              f"{len(lon_v or ())}); write arrays of its shape")
        grid[name] = xr.Variable((name,), np.asarray(vals), {"units": c.get("units", "")})
    if t and len(t["values"]) == n and time is not False:
        grid[t["name"]] = tcoord(t["name"], t["values"])
        return grid, (t["name"], lat_name, lon_name)
    if time:
        raise GenlabError(f"{n} arrays but {len((t or {}).get('values', []))} time steps; pass time=False")
    return grid, ("sample", lat_name, lon_name)
