"""Translation domains made of real physical fields (FNOC monthly Navy winds, 1982–1992, complete).

`navy-uv` (paired, a "maps"-like task between two physical fields on one grid): field `a` = zonal wind u,
field `b` = meridional wind v of the same month (and the same tile with data.size), both M/S, each
standardised with its own training mean and standard deviation (data/netcdf.py). Test = the last 26
months, as `navy-winds`. Whole fields are 73 × 144 (2.5°; periodic in longitude): give data.size (default
32 → 2 × 4 tiles per month) so U-Nets can halve.

`navy-seasons` (unpaired, CycleGAN's "winter ↔ summer"): stream "a" holds field `a` = data.var (uwnd,
default, or vwnd) of the boreal-winter months DJF, stream "b" field `b` = the same variable in JJA; one
normaliser (the variable's, over every training month), so a translated field is in the same units and
scale as both domains. Months come from the file's time axis (ISO dates). Splits by year as `navy-winds`.

Why not COADS SST → air temperature: both COADS fields have real observation gaps (SST observed 54 %),
and a translation loss on gappy targets needs the masked losses of the restoration models; the Navy winds
are complete, so every pixel of every pair is a real observation.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from ..fields import FieldSpec
from ..registry import DATASETS
from .base import FieldDataset
from .climate import ferret_file
from .netcdf import SPLITS, load_netcdf
from .streams import UnalignedDataset

FILE = "monthly_navy_winds.cdf"
SEASONS = {"a": (12, 1, 2), "b": (6, 7, 8)}  # DJF, JJA


def _winds(var: str, split: str, size: Optional[int], path: Optional[str]) -> FieldDataset:
    return load_netcdf(ferret_file(FILE, path), var, split=split, size=size, name="navy-winds")


def _as(spec: FieldSpec, name: str) -> FieldSpec:
    return FieldSpec(spec.shape, spec.kind, spec.levels, spec.normalizer, spec.periodic, None, (), 0, spec.channels)


@DATASETS.register("navy-uv", splits=SPLITS, options=("size", "path"),
                   help="paired physical fields: a = zonal wind u -> b = meridional wind v of the same month (M/S), "
                        "FNOC Navy winds 1982-92; data.size tiles (default 32)")
def navy_uv(split: str, size: Optional[int] = None, path: Optional[str] = None) -> FieldDataset:
    s = int(size or 32)
    u, v = _winds("uwnd", split, s, path), _winds("vwnd", split, s, path)
    if u.meta["coords"]["tiles"] != v.meta["coords"]["tiles"]:
        raise GenlabError("the u and v fields of the Navy winds file do not share a grid; check data.path")
    meta = {k: u.meta[k] for k in ("source", "split_rule", "region", "coords")}
    meta.update(variable="UWND -> VWND", units="M/S", long_name="zonal wind -> meridional wind")
    return FieldDataset("navy-uv", split, {"a": u.tensors["x"], "b": v.tensors["x"]},
                        {"a": _as(u.specs["x"], "a"), "b": _as(v.specs["x"], "b")}, primary="b", meta=meta)


def months_of(ds: FieldDataset) -> np.ndarray:
    """Calendar month (1..12) of each example (tiles included) from the time axis' ISO dates."""
    t = ds.meta["coords"]["time"]
    if not t or not t.get("iso"):
        raise GenlabError(f"{ds.meta.get('source')}: no calendar dates on the time axis; cannot tell seasons")
    month = np.array([int(str(d)[5:7]) for d in t["iso"]])  # per time step of the split
    tiles = ds.meta["coords"]["tiles"]
    step = np.array([o[0] for o in tiles["origin"]]) if tiles else np.arange(len(ds))
    return month[step]


@DATASETS.register("navy-seasons", splits=SPLITS, options=("var", "size", "path"),
                   help="unpaired physical fields: winter (DJF, a) <-> summer (JJA, b) monthly winds, FNOC Navy winds "
                        "1982-92; data.var=uwnd|vwnd (M/S); data.size tiles (default 32)")
def navy_seasons(split: str, var: Optional[str] = None, size: Optional[int] = None,
                 path: Optional[str] = None) -> UnalignedDataset:
    name = (var or "uwnd").lower()
    if name not in ("uwnd", "vwnd"):
        raise GenlabError(f"data.var={var!r} is not a Navy winds variable; use uwnd or vwnd")
    w = _winds(name, split, int(size or 32), path)
    m = months_of(w)
    streams = {}
    for field, months in SEASONS.items():
        keep = torch.from_numpy(np.isin(m, months))
        streams[field] = FieldDataset("navy-seasons", split, {field: w.tensors["x"][keep]},
                                      {field: _as(w.specs["x"], field)}, primary=field)
    meta = {k: w.meta[k] for k in ("source", "variable", "units", "split_rule", "region")}
    meta.update(seasons={"a": "DJF", "b": "JJA"})
    return UnalignedDataset("navy-seasons", split, streams, primary="b", meta=meta)
