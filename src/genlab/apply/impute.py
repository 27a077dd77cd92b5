"""Filling the gaps of a gridded netCDF variable with a trained gap-filling (inpaint) run — `genlab impute`.

    read_input(path, var, spec)        the variable as (N, h, w) values with gaps, its grid and attributes
    infill_on_run_grid(model, ...)     map onto the run's grid, infill, map back (apply/grids.py)
    write_imputed(path, field, ...)    gt, mask, output, infilled on the input's coordinates (as CRAI writes)

Gaps are the cells xarray masks (_FillValue, missing_value; packed data are unpacked), values outside
valid_min/valid_max/valid_range, NaN and ±inf. NaN or inf values that the file does not declare as missing
are treated as gaps too, and reported. What is refused, in one line (nothing is written): a missing
variable (the file's variables are listed), units that differ from the run's (or none, without --units),
values more than 20 training standard deviations from the run's training data (an undeclared fill value
such as −999 is ambiguous: declare it), a variable without 1-D latitude/longitude coordinates on a run that
has a grid (unless it has exactly the run's shape), a grid that does not overlap the run's or has a spacing
more than 4 times finer or coarser, and fields with no known value at all.

Every dimension other than latitude and longitude (time, depth, ...) is a separate field; outputs keep the
variable's dimension order.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from .grids import Grid, check_mappable, regrid

Z_LIMIT = 20.0  # |value − training mean| / training sd beyond which a value looks like an undeclared fill value
PACKING = ("_FillValue", "missing_value", "scale_factor", "add_offset")
RANGES = ("valid_min", "valid_max", "valid_range")


def canonical_units(u: Optional[str]) -> str:
    """Units spelt the same way for comparison: 'Deg C', 'degC', 'degrees_Celsius', '°C' -> 'degc'."""
    s = re.sub(r"[\s_]+", "", str(u or "")).lower().replace("°", "deg").replace("degrees", "deg")
    s = s.replace("degree", "deg").replace("celsius", "c").replace("kelvin", "k")
    return {"c": "degc", "degk": "k", "ms-1": "m/s", "ms^-1": "m/s", "meter/second": "m/s"}.get(s, s)


@dataclass
class InputField:
    path: Path
    var: str
    values: np.ndarray  # (N, h, w) float64, NaN in gaps
    known: np.ndarray  # (N, h, w) bool
    grid: Optional[Grid]
    dims: tuple[str, ...]  # the variable's dimensions in file order
    lead: tuple[str, ...]  # the dimensions other than (lat, lon), in file order
    lead_shape: tuple[int, ...]
    lat_dim: str
    lon_dim: str
    attrs: dict
    fill: Optional[float]  # the declared _FillValue (or missing_value), None if none
    missing: Optional[float]  # the declared missing_value, None if none
    units: str
    notes: list[str] = field(default_factory=list)


def _find(ds, var: str, path) -> str:
    from ..data.netcdf import gridded_variables

    if var in ds.data_vars:
        return var
    lower = {str(v).lower(): str(v) for v in ds.data_vars}
    if var.lower() in lower:
        return lower[var.lower()]
    raise GenlabError(f"{path} has no variable {var!r}; it has: {', '.join(gridded_variables(ds)) or 'no gridded variable'}"
                      " (give one with --var)")


def _axes(ds, name: str, path) -> tuple[str, str, tuple[str, ...]]:
    from ..data.netcdf import _axis

    dims = tuple(str(d) for d in ds[name].dims)
    kinds = {d: _axis(ds, d) for d in dims}
    lat = [d for d in dims if kinds[d] == "Y"]
    lon = [d for d in dims if kinds[d] == "X"]
    if len(lat) != 1 or len(lon) != 1:
        raise GenlabError(f"{name} in {path} has dimensions {dims}: impute needs one latitude and one longitude "
                          "dimension (CF units degrees_north/degrees_east, axis Y/X, or names lat/lon)")
    return lat[0], lon[0], tuple(d for d in dims if d not in (lat[0], lon[0]))


def _coord(ds, dim: str) -> Optional[np.ndarray]:
    if dim in ds.variables and ds[dim].ndim == 1:
        v = np.asarray(ds[dim].values, np.float64)
        return v if np.isfinite(v).all() else None
    return None


def _gaps(ds, raw, name: str, values: np.ndarray, notes: list[str]) -> tuple[np.ndarray, Optional[float]]:
    """The missing cells of `values` (already masked by xarray) and the declared fill value; NaN/inf the
    file does not declare, and values outside its valid range, are gaps too (and noted)."""
    enc = ds[name].encoding
    fill = enc.get("_FillValue", enc.get("missing_value"))
    fill = None if fill is None else float(np.ravel(fill)[0])
    r = np.asarray(raw[name].values)
    if np.issubdtype(r.dtype, np.floating):
        n_nan = int(np.isnan(r).sum())
        if n_nan and not (fill is not None and np.isnan(fill)):
            how = f"the declared fill value is {fill:g}" if fill is not None else "no _FillValue/missing_value"
            notes.append(f"{n_nan} NaN values not marked missing ({how}) are treated as gaps")
        n_inf = int(np.isinf(r).sum())
        if n_inf:
            notes.append(f"{n_inf} infinite values are treated as gaps")
    missing = ~np.isfinite(values)
    attrs = ds[name].attrs
    lo = hi = None
    if "valid_range" in attrs:
        lo, hi = (float(v) for v in np.ravel(attrs["valid_range"])[[0, -1]])
    lo = float(attrs["valid_min"]) if "valid_min" in attrs else lo
    hi = float(attrs["valid_max"]) if "valid_max" in attrs else hi
    out = np.zeros_like(missing)
    if lo is not None:
        out |= ~missing & (values < lo)
    if hi is not None:
        out |= ~missing & (values > hi)
    if out.any():
        notes.append(f"{int(out.sum())} values outside the valid range are treated as gaps")
    return missing | out, fill


def read_input(path: str | Path, var: str, *, run_units: str, offset: float, scale: float,
               units: Optional[str] = None) -> InputField:
    """The variable `var` of a netCDF file as (N, h, w) fields with gaps (module docstring); `run_units`,
    offset and scale describe the run's training data (its normaliser) for the units and range checks."""
    from ..data.netcdf import _xarray, open_dataset

    p = Path(path)
    ds = open_dataset(p)
    try:
        name = _find(ds, var, p)
        lat_dim, lon_dim, lead = _axes(ds, name, p)
        raw = _xarray().open_dataset(p, decode_times=False, mask_and_scale=False, engine="netcdf4")
        try:
            a = ds[name].transpose(*lead, lat_dim, lon_dim)
            values = np.asarray(a.values, np.float64)
            lead_shape = tuple(values.shape[:-2])
            values = values.reshape((-1,) + values.shape[-2:])  # (N, h, w)
            notes: list[str] = []
            missing, fill = _gaps(ds, raw, name, values, notes)
            mv = ds[name].encoding.get("missing_value")
            declared_missing = None if mv is None else float(np.ravel(mv)[0])
        finally:
            raw.close()
        attrs = dict(ds[name].attrs)
        lat, lon = _coord(ds, lat_dim), _coord(ds, lon_dim)
        dims = tuple(str(d) for d in ds[name].dims)
    finally:
        ds.close()
    file_units = str(attrs.get("units", "")).strip()
    if file_units and units and canonical_units(file_units) != canonical_units(units):
        raise GenlabError(f"--units {units!r} contradicts the units of {name} in {p} ({file_units!r}); drop --units")
    have = file_units or (units or "")
    if not have:
        raise GenlabError(f"{name} in {p} has no units attribute; the run was trained on {run_units!r}: if that is "
                          f"what it holds, say so with --units '{run_units}'")
    if canonical_units(have) != canonical_units(run_units):
        raise GenlabError(f"{name} in {p} is in {have!r} but the run was trained on {run_units!r}; convert it to "
                          f"{run_units!r} first (a difference in °C equals one in K, the values do not)")
    known = ~missing
    values = np.where(known, values, np.nan)
    z = np.abs(values[known] - offset) / scale
    if z.size and z.max() > Z_LIMIT:
        bad = values[known][z > Z_LIMIT]
        raise GenlabError(f"{bad.size} values of {name} (e.g. {bad[0]:g}) lie over {Z_LIMIT:g} standard deviations "
                          f"from the run's training data (mean {offset:.4g}, sd {scale:.4g} {run_units}): if they mark "
                          "gaps, declare them (_FillValue or missing_value attribute, e.g. ncatted -a "
                          f"_FillValue,{name},o,f,{bad[0]:g} {p.name}) and retry")
    if not known.any():
        raise GenlabError(f"every value of {name} in {p} is missing; there is nothing to infill from")
    empty = np.flatnonzero(~known.reshape(len(known), -1).any(1))
    if len(empty):
        shown = ", ".join(str(tuple(int(i) for i in np.unravel_index(k, lead_shape))) for k in empty[:5])
        raise GenlabError(f"{len(empty)} field(s) of {name} are entirely missing (index {shown} along {lead}); "
                          "select the others (e.g. ncks -d) and retry")
    grid = Grid.of(lat, lon) if lat is not None and lon is not None else None
    return InputField(p, name, values, known, grid, dims, lead, lead_shape, lat_dim, lon_dim, attrs, fill,
                      declared_missing, have, notes)


@torch.no_grad()
def infill_model_space(model, x: torch.Tensor, m: torch.Tensor, batch: int = 4, context=None) -> torch.Tensor:
    """model.infill in chunks of `batch` fields: x, m (N, C|1, H, W) [, context = (x_c, m_c) (N, C_c, H, W)]
    -> (N, C, H, W), fp32 on CPU."""
    dev = next(model.parameters()).device

    def part(t, i):
        return None if t is None else t[i:i + batch].to(dev)

    xc, mc = context if context is not None else (None, None)
    out = [model.infill(part(x, i), part(m, i), part(xc, i), part(mc, i)).float().cpu() for i in range(0, len(x), batch)]
    return torch.cat(out, 0)


def context_is_cyclic(context: Optional[dict], n: int) -> bool:
    """Whether n fields' neighbouring steps wrap around: the run's context is cyclic and n is its period (a
    12-month climatology), or it names no period."""
    period = (context or {}).get("period")
    return bool((context or {}).get("cyclic")) and (period is None or n == int(period))


def context_channels(model, normalizer, context: Optional[dict], values: np.ndarray, known: np.ndarray,
                     notes: list[str]):
    """(x_c, m_c) (N, 2K, H, W) in model space for a run with context channels (the neighbouring steps of each
    of the N fields along their first axis: `data.gaps.neighbour_steps`), or None for a run without. Cyclic
    when the run's context is cyclic and N is its period (a 12-month climatology), else the steps beyond the
    ends are unknown."""
    from ..data.gaps import neighbour_steps

    n_ctx = getattr(model, "ctx_channels", 0)
    if not n_ctx:
        return None
    k = int((context or {}).get("steps", 0))
    if not context or 2 * k != n_ctx:
        raise GenlabError(f"the run reads {n_ctx} context channels but its data describe no neighbouring steps "
                          "(meta 'context'); it cannot be applied")
    if len(values) < 2:
        raise GenlabError(f"the run fills each field from its {k} neighbouring time steps on each side, but the input "
                          "holds one field; give the whole series (e.g. all 12 months)")
    cyclic = context_is_cyclic(context, len(values))
    if context.get("cyclic") and not cyclic:
        notes.append(f"{len(values)} fields, not the run's period {context.get('period')}: neighbours beyond the ends are unknown")
    nv, nk = neighbour_steps(np.where(known, values, 0.0), known, k, cyclic=cyclic)
    offset = float(normalizer.offset[0])
    xc = normalizer.to_model(torch.from_numpy(np.where(nk, nv, offset).reshape((-1, 1) + nv.shape[2:])).float())
    return xc.reshape(nv.shape), torch.from_numpy(nk.astype(np.float32))


def infill_on_run_grid(model, normalizer, run_grid: Optional[Grid], values: np.ndarray, known: np.ndarray,
                       grid: Optional[Grid], *, batch: int = 4, context: Optional[dict] = None,
                       context_known: Optional[np.ndarray] = None) -> tuple[np.ndarray, list[str]]:
    """Raw model output (N, h, w) in data units on the input's grid for fields `values` (NaN gaps) with
    `known` cells: mapped onto the run's grid (exactly when the grids agree), infilled there, mapped back.
    Input cells outside the run's grid get NaN. Returns the output and notes on the mapping. A run with
    context channels (neighbouring steps; `context` = the run's meta "context") reads the other fields as
    known where `context_known` (default: `known`) says so — the evaluation hides cells of one month only."""
    notes: list[str] = []
    mapped = run_grid is not None and grid is not None and not grid.same_as(run_grid)
    if run_grid is not None and grid is None:
        if values.shape[1:] != run_grid.shape:
            raise GenlabError(f"the input has no 1-D latitude/longitude coordinates and is {values.shape[1]}x"
                              f"{values.shape[2]}, not the run's {run_grid.shape[0]}x{run_grid.shape[1]} grid; "
                              "add coordinates or regrid it to the run's grid")
        notes.append("the input has no lat/lon coordinates; its cells are taken to be the run's grid")
    ck = known if context_known is None else context_known
    if mapped:
        check_mappable(grid, run_grid, "the input grid")
        v, k = regrid(values, known, grid, run_grid)
        vc, kc = regrid(values, ck, grid, run_grid) if context_known is not None else (v, k)
        notes.append(f"mapped from {grid.shape[0]}x{grid.shape[1]} onto the run's {run_grid.shape[0]}x"
                     f"{run_grid.shape[1]} grid and back (bilinear, gaps by nearest cell)")
    else:
        v, k, vc, kc = values, known, values, ck
    offset = float(normalizer.offset[0])
    x = normalizer.to_model(torch.from_numpy(np.where(k, v, offset)[:, None]).float())  # (N, 1, H, W)
    m = torch.from_numpy(k[:, None].astype(np.float32))
    ctx = context_channels(model, normalizer, context, vc, kc, notes)
    out = normalizer.to_data(infill_model_space(model, x, m, batch, ctx))[:, 0].double().numpy()  # (N, H, W)
    if mapped:
        out, inside = regrid(out, np.ones(out.shape, bool), run_grid, grid)
        if not inside.all():
            notes.append(f"{int((~inside[0]).sum())} input cells per field lie outside the run's grid: left as they are")
    return out, notes


def write_imputed(path: str | Path, inp: InputField, output: np.ndarray, infilled: np.ndarray, *,
                  history: str, force: bool = False) -> Path:
    """gt (the input), mask (1 = known), output (raw) and infilled (composite) on the input's coordinates
    and dimension order, with its attributes and fill value, written atomically (module docstring)."""
    from ..data.netcdf import _xarray, open_dataset

    xr = _xarray()
    p = Path(path)
    src = open_dataset(inp.path)
    try:
        var = src[inp.var]
        coords = {c: src[c].variable.copy(deep=True) for c in var.coords if set(src[c].dims) <= set(inp.dims)}
        for d in inp.dims:
            if d in src.variables and d not in coords:
                coords[d] = src[d].variable.copy(deep=True)
        glob = dict(src.attrs)
    finally:
        src.close()
    work = inp.lead + (inp.lat_dim, inp.lon_dim)
    shape = inp.lead_shape + inp.values.shape[-2:]
    base = {k: v for k, v in inp.attrs.items() if k not in PACKING}
    model_attrs = {k: v for k, v in base.items() if k not in RANGES}
    name = str(inp.attrs.get("long_name", inp.var))
    out = xr.Dataset(coords=coords)
    fill = np.float32(inp.fill) if inp.fill is not None else np.float32(np.nan)
    for key, arr, attrs in (("gt", inp.values, {**base, "comment": "the input, gaps missing"}),
                            ("output", output, {**model_attrs, "long_name": f"{name} (raw network output)"}),
                            ("infilled", infilled, {**model_attrs, "long_name": f"{name} (gaps filled)",
                                                    "comment": "gt where known, output in the gaps"})):
        vals = np.where(np.isfinite(arr), arr, np.nan).astype(np.float32).reshape(shape)
        out[key] = xr.Variable(work, vals, attrs).transpose(*inp.dims)
        out[key].encoding.update(_FillValue=fill, dtype="float32")
        if inp.missing is not None:
            out[key].encoding["missing_value"] = np.float32(inp.missing)
    out["mask"] = xr.Variable(work, inp.known.astype(np.uint8).reshape(shape),
                              {"long_name": f"{inp.var}: 1 = known (observed), 0 = gap",
                               "flag_values": np.array([0, 1], np.uint8), "flag_meanings": "gap known"}
                              ).transpose(*inp.dims)
    old = str(glob.get("history", "")).strip()
    out.attrs.update({**glob, "history": (old + "\n" if old else "") + history})
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    try:
        out.to_netcdf(tmp, format="NETCDF4", engine="netcdf4")
        if p.exists() and not force:  # appeared meanwhile
            raise GenlabError(f"{p} exists; add --force to replace it")
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p
