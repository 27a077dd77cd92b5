"""Real Earth-system datasets from files packaged for offline use, registered as field datasets.

Debian's `ferret-datasets` (/usr/share/ferret-vis/data, netCDF3) and PyPI's `iris-sample-data` (netCDF4).
Every one is read by `netcdf.load_netcdf`: x is (N, 1, H, W) float32 in the file's units, latitude rows
south to north as in the files, gaps marked by `x_valid` (1 = observed); `data.path=FILE` points at a copy
elsewhere. Observed fractions below were measured on these files (whole grid, all time steps).

coads       COADS surface marine climatology: 12 months on a 2° grid (90 x 180, 21°E..379°E, periodic),
            data.var = sst (Deg C), airt (DEG C), speh (G/KG), wspd, uwnd, vwnd (M/S), slp (MB); real
            observational gaps: SST observed 0.539 (0.49..0.59 per month). Test = April and October.
levitus     Levitus annual ocean climatology, one depth level (180 x 360, 1°, periodic), data.var = temp
            (DEG C) or salt (PPT), data.level = depth in m (0, 10, 20, 30, 50, 75, 100, 150, 200, 300, 400,
            600, 800, 1000, 1200, 1500, 2000, 3000, 4000, 5000; default 0) or #index; land and sea floor
            are gaps (observed 0.651 at 0 m, 0.106 at 5000 m). One field; data.size cuts tiles.
navy-winds  FNOC monthly surface winds Jan 1982 .. Dec 1992 (132 x 73 x 144, 2.5°, periodic), data.var = uwnd
            or vwnd (M/S), complete. Test = the last 26 months (Nov 1990 .. Dec 1992).
etopo       ETOPO relief of the Earth's surface in m (METERS; etopo5: meters), data.res = 5, 20, 40, 60
            (default) or 120 arc-minutes: 2161 x 4320, 540 x 1080, 270 x 540, 180 x 360, 90 x 180, periodic,
            complete. One field; data.size=S cuts S x S tiles (test = the eastern 20 % of tile columns).
na-air-temp Met Office Unified Model (6.05) annual-mean 1.5 m air temperature over North America (iris
            sample data), K, 1860..2099 (240 x 37 x 49, 1.25° x 1.875°, 15..60°N, 225..315°E), complete;
            data.scenario = a1b (default) or e1 (identical to A1B up to 1999). Test = the last 48 years
            (2052..2099).
ostia       OSTIA monthly sea-surface temperature (surface_temperature), K, Apr 2006 .. Sep 2010 (54 x 18 x
            432, 5°S..4.4°N, 0.83°, periodic); land is a fixed gap (observed 0.736). Test = the last 11 months.
netcdf      any gridded variable of a netCDF file: data.path=FILE data.var=NAME (data.level, data.region).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..errors import GenlabError
from ..registry import DATASETS
from .netcdf import SPLITS, load_netcdf

FERRET_DIR = Path("/usr/share/ferret-vis/data")
FERRET_HOW = "install it with: apt-get install ferret-datasets (or give data.path=FILE)"
IRIS_HOW = "install it with: pip install iris-sample-data (or give data.path=FILE)"
COADS_TEST_MONTHS = (3, 9)  # April and October: one month of each transition season held out
ETOPO_RES = (5, 20, 40, 60, 120)
SCENARIOS = {"a1b": "A1B_north_america.nc", "e1": "E1_north_america.nc"}
COMMON = ("path", "region", "size")


def ferret_file(name: str, path: Optional[str] = None) -> Path:
    """A ferret-datasets file (or the user's `data.path`), with a one-line error if it is absent."""
    if path:
        return _given(path, name)
    p = FERRET_DIR / name
    if not p.is_file():
        raise GenlabError(f"{p} not found: it is part of the Debian package ferret-datasets; {FERRET_HOW}")
    return p


def _given(path: str, name: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise GenlabError(f"data.path={path} not found; give an existing copy of {name}")
    return p


def iris_file(name: str, path: Optional[str] = None) -> Path:
    """An iris-sample-data file (or the user's `data.path`), with a one-line error if it is absent."""
    if path:
        return _given(path, name)
    try:
        import iris_sample_data
    except ImportError:
        raise GenlabError(f"{name} comes with the Python package iris-sample-data; {IRIS_HOW}") from None
    p = Path(os.path.dirname(iris_sample_data.__file__)) / "sample_data" / name
    if not p.is_file():
        raise GenlabError(f"{p} not found (iris-sample-data); {IRIS_HOW}")
    return p


@DATASETS.register("coads", splits=SPLITS, options=("var",) + COMMON,
                   help="COADS monthly marine climatology, 12 x 90 x 180 (2°), real gaps (SST observed 0.54); "
                        "data.var=sst|airt|speh|wspd|uwnd|vwnd|slp (Deg C, G/KG, M/S, MB); test = Apr, Oct")
def coads(split: str, var: Optional[str] = None, path: Optional[str] = None, region=None,
          size: Optional[int] = None):
    ds = load_netcdf(ferret_file("coads_climatology.cdf", path), var or "sst", split=split,
                     time_split=COADS_TEST_MONTHS, size=size, region=region, name="coads")
    ds.meta["month"] = [i + 1 for i in ds.meta["coords"]["time"]["index"]]  # the file's steps are Jan..Dec
    return ds


@DATASETS.register("levitus", splits=SPLITS, options=("var", "level") + COMMON,
                   help="Levitus ocean climatology at one depth, 180 x 360 (1°): data.var=temp (DEG C)|salt "
                        "(PPT), data.level=depth in m (default 0) or #index; land/sea floor are gaps")
def levitus(split: str, var: Optional[str] = None, level=None, path: Optional[str] = None, region=None,
            size: Optional[int] = None):
    return load_netcdf(ferret_file("levitus_climatology.cdf", path), var or "temp", split=split, size=size,
                       level=level, region=region, name="levitus")


@DATASETS.register("navy-winds", splits=SPLITS, options=("var",) + COMMON,
                   help="FNOC monthly surface winds 1982-1992, 132 x 73 x 144 (2.5°), complete; data.var=uwnd"
                        "|vwnd (M/S); test = the last 26 months")
def navy_winds(split: str, var: Optional[str] = None, path: Optional[str] = None, region=None,
               size: Optional[int] = None):
    return load_netcdf(ferret_file("monthly_navy_winds.cdf", path), var or "uwnd", split=split, size=size,
                       region=region, name="navy-winds")


@DATASETS.register("etopo", splits=SPLITS, options=("res",) + COMMON,
                   help="ETOPO relief in m, one global field; data.res=5|20|40|60|120 arc-minutes (default 60, "
                        "180 x 360); data.size=S cuts S x S tiles (test = eastern 20 % of tile columns)")
def etopo(split: str, res: Optional[int] = None, path: Optional[str] = None, region=None,
          size: Optional[int] = None):
    res = int(res or 60)
    if res not in ETOPO_RES:
        raise GenlabError(f"data.res={res} is not an ETOPO resolution; use one of {', '.join(map(str, ETOPO_RES))}")
    return load_netcdf(ferret_file(f"etopo{res}.cdf", path), "rose", split=split, size=size, region=region,
                       name="etopo", meta={"res_arcmin": res})


@DATASETS.register("na-air-temp", splits=SPLITS, options=("scenario",) + COMMON,
                   help="Met Office annual-mean 1.5 m air temperature over North America in K, 1860-2099, "
                        "240 x 37 x 49, complete; data.scenario=a1b|e1; test = the last 48 years")
def na_air_temp(split: str, scenario: Optional[str] = None, path: Optional[str] = None, region=None,
                size: Optional[int] = None):
    key = (scenario or "a1b").lower()
    if key not in SCENARIOS:
        raise GenlabError(f"data.scenario={scenario!r} is not available; use one of {', '.join(SCENARIOS)}")
    return load_netcdf(iris_file(SCENARIOS[key], path), "air_temperature", split=split, size=size,
                       region=region, name="na-air-temp", meta={"scenario": key.upper()})


@DATASETS.register("ostia", splits=SPLITS, options=COMMON,
                   help="OSTIA monthly SST in K, Apr 2006-Sep 2010, 54 x 18 x 432 (5°S-4.4°N, periodic), land "
                        "gaps (observed 0.74); test = the last 11 months")
def ostia(split: str, path: Optional[str] = None, region=None, size: Optional[int] = None):
    return load_netcdf(iris_file("ostia_monthly.nc", path), "surface_temperature", split=split, size=size,
                       region=region, name="ostia")


@DATASETS.register("netcdf", splits=SPLITS, options=("var", "level") + COMMON,
                   help="a gridded variable of any netCDF file: data.path=FILE data.var=NAME (data.level, "
                        "data.region=lat0,lat1,lon0,lon1, data.size tiles); test = last 20 % of time steps")
def netcdf(split: str, path: Optional[str] = None, var: Optional[str] = None, level=None, region=None,
           size: Optional[int] = None):
    if not path:
        raise GenlabError("dataset 'netcdf' needs data.path=FILE (a .nc/.cdf file) and data.var=NAME")
    if not var:
        from .netcdf import gridded_variables, open_dataset

        ds = open_dataset(path)
        names = gridded_variables(ds)
        ds.close()
        raise GenlabError(f"dataset 'netcdf' needs data.var=NAME; {path} has: {', '.join(names) or 'none'}")
    return load_netcdf(path, var, split=split, size=size, level=level, region=region, name="netcdf")
