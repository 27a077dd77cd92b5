"""netCDF fields: the generic reader/writer on small synthetic files, and every registered real dataset.

Observed fractions of the real files were measured with xarray (finite values over the whole grid):
COADS SST 0.5390 (train months 0.5422, April + October 0.5231), Levitus TEMP at 0 m 0.6507 and at
5000 m 0.1062, OSTIA 0.7357; navy winds, ETOPO and the North-American air temperature are complete.
"""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genlab.config import DataConfig, build
from genlab.data import climate, load_dataset
from genlab.data.netcdf import load_netcdf, split_steps, write_netcdf
from genlab.errors import GenlabError

import xarray as xr  # noqa: E402  (make test installs xarray, netCDF4, iris-sample-data and ferret-datasets)


def synthetic(path: Path, *, t=10, lat=(-40.0, -20.0, 0.0, 20.0, 40.0), lon=None, fmt="NETCDF4", gaps=True,
              seed=0) -> np.ndarray:
    """A (t, lat, lon) temperature in K with NaN gaps written as _FillValue -1e34. Returns the values."""
    lon = np.arange(0.0, 360.0, 30.0) if lon is None else np.asarray(lon, float)
    rng = np.random.default_rng(seed)
    v = (280.0 + 10 * rng.standard_normal((t, len(lat), len(lon)))).astype(np.float32)
    if gaps:
        v[rng.random(v.shape) < 0.3] = np.nan
    ds = xr.Dataset({"tas": (("time", "lat", "lon"), v, {"units": "K", "long_name": "air temperature"})},
                    coords={"time": ("time", np.arange(t) * 30.0, {"units": "days since 2000-01-01",
                                                                   "calendar": "360_day"}),
                            "lat": ("lat", np.asarray(lat), {"units": "degrees_north"}),
                            "lon": ("lon", lon, {"units": "degrees_east"})})
    ds.tas.encoding["_FillValue"] = np.float32(-1e34)
    ds.to_netcdf(path, format=fmt)
    return v


# --- the generic reader ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["NETCDF4", "NETCDF3_CLASSIC"])
def test_gaps_round_trip_in_data_units_with_exact_mask(tmp_path, fmt):
    v = synthetic(tmp_path / "a.nc", fmt=fmt)
    d = load_netcdf(tmp_path / "a.nc", "TAS", split="all")  # names are case-insensitive
    obs = np.isfinite(v)
    assert d.x.shape == (10, 1, 5, 12) and d.x.dtype == torch.float32
    assert d.specs["x"].valid == "x_valid" and d.specs["x_valid"].kind == "mask"
    assert np.array_equal(d.tensors["x_valid"][:, 0].numpy(), obs.astype(np.uint8))
    b = d.batch(slice(None))
    back = d.specs["x"].normalizer.to_data(b.x)[:, 0].numpy()
    np.testing.assert_allclose(back[obs], v[obs], rtol=0, atol=1e-3)  # K
    assert torch.all(b.x[b.x_valid == 0] == 0)  # gaps sit at the offset: 0 in model space
    # standardised with the observed *training* values (the first 8 of 10 steps)
    train = v[:8][np.isfinite(v[:8])].astype(np.float64)
    norm = d.specs["x"].normalizer
    assert norm.units == "K"
    assert norm.offset[0] == pytest.approx(train.mean(), rel=1e-9)
    assert norm.scale[0] == pytest.approx(train.std(), rel=1e-9)
    assert d.meta["observed_fraction"] == pytest.approx(obs.mean(), abs=1e-12)
    assert d.meta["coords"]["time"]["iso"][1] == "2000-02-01T00:00:00"  # 30 days on: the 360_day calendar


def test_time_split_is_the_last_fifth_and_shares_the_training_normaliser(tmp_path):
    synthetic(tmp_path / "a.nc", t=10)
    tr, te = (load_netcdf(tmp_path / "a.nc", "tas", split=s) for s in ("train", "test"))
    assert len(tr) == 8 and len(te) == 2
    assert te.meta["coords"]["time"]["index"] == [8, 9] and te.meta["coords"]["time"]["values"] == [240.0, 270.0]
    assert tr.specs["x"].normalizer == te.specs["x"].normalizer
    assert split_steps(12, "test", (3, 9))[1].tolist() == [3, 9]
    assert split_steps(132, "test")[1].tolist() == list(range(106, 132))
    with pytest.raises(GenlabError, match="distinct indices"):
        split_steps(12, "test", (3, 12))


def test_periodic_longitude_detection_and_duplicate_column(tmp_path):
    synthetic(tmp_path / "g.nc", gaps=False)  # 0, 30, ..., 330: spans 360°
    g = load_netcdf(tmp_path / "g.nc", "tas")
    assert g.specs["x"].periodic == (2,) and "x_valid" not in g.tensors and g.specs["x"].valid is None
    synthetic(tmp_path / "r.nc", lon=np.arange(0.0, 300.0, 30.0))  # 300° only
    assert load_netcdf(tmp_path / "r.nc", "tas").specs["x"].periodic == ()
    synthetic(tmp_path / "u.nc", lon=[0, 30, 60, 100, 130, 160, 190, 220, 250, 280, 310, 330])  # uneven
    assert load_netcdf(tmp_path / "u.nc", "tas").specs["x"].periodic == ()
    # a repeated wrap-around column (0 ... 360 with equal first and last values) is dropped
    ds = xr.open_dataset(tmp_path / "g.nc")
    wrapped = xr.concat([ds, ds.isel(lon=[0]).assign_coords(lon=[360.0])], "lon")
    wrapped.to_netcdf(tmp_path / "w.nc")
    w = load_netcdf(tmp_path / "w.nc", "tas")
    assert w.x.shape[-1] == 12 and w.specs["x"].periodic == (2,) and w.meta["coords"]["lon"]["dropped_duplicate"]


def test_region_across_the_seam_and_bad_boxes(tmp_path):
    synthetic(tmp_path / "a.nc")
    d = load_netcdf(tmp_path / "a.nc", "tas", region="-20,20,-60,60")  # crosses 0°E
    assert d.x.shape[2:] == (3, 5) and d.meta["coords"]["lon"]["values"] == [-60.0, -30.0, 0.0, 30.0, 60.0]
    assert d.specs["x"].periodic == ()
    with pytest.raises(GenlabError, match="lat0,lat1,lon0,lon1"):
        load_netcdf(tmp_path / "a.nc", "tas", region="1,2,3")
    with pytest.raises(GenlabError, match="no grid point"):
        load_netcdf(tmp_path / "a.nc", "tas", region=(60, 80, 0, 10))


def test_levels_by_value_or_index_and_errors(tmp_path):
    v = np.arange(3 * 4 * 2 * 6, dtype=np.float32).reshape(3, 4, 2, 6)  # (time, depth, lat, lon)
    xr.Dataset({"temp": (("time", "depth", "lat", "lon"), v, {"units": "degC"})},
               coords={"time": ("time", [0.0, 1, 2], {"units": "days since 1990-01-01"}),
                       "depth": ("depth", [0.0, 10, 50, 100], {"units": "m", "positive": "down"}),
                       "lat": [-10.0, 10], "lon": np.arange(6) * 10.0}).to_netcdf(tmp_path / "z.nc")
    for level, k in [(None, 0), ("50", 2), (100, 3), ("#1", 1)]:
        d = load_netcdf(tmp_path / "z.nc", "temp", split="all", level=level)
        assert d.meta["coords"]["level"]["index"] == k and d.x.shape == (3, 1, 2, 6)
        np.testing.assert_array_equal(d.x[:, 0].numpy(), v[:, k])
    with pytest.raises(GenlabError, match="values: 0, 10, 50, 100"):
        load_netcdf(tmp_path / "z.nc", "temp", level=20)
    with pytest.raises(GenlabError, match="#0 .. #3"):
        load_netcdf(tmp_path / "z.nc", "temp", level="#4")


def test_bad_variable_lists_the_files_variables(tmp_path):
    synthetic(tmp_path / "a.nc")
    with pytest.raises(GenlabError, match="one of: tas$"):
        load_netcdf(tmp_path / "a.nc", "sst")
    with pytest.raises(GenlabError, match="not found"):
        load_netcdf(tmp_path / "missing.nc", "tas")
    (tmp_path / "junk.nc").write_bytes(b"not a netcdf file")
    with pytest.raises(GenlabError, match="cannot read"):
        load_netcdf(tmp_path / "junk.nc", "tas")


def test_missing_xarray_is_a_one_line_error_naming_the_install(tmp_path, monkeypatch):
    synthetic(tmp_path / "a.nc")
    monkeypatch.setitem(sys.modules, "xarray", None)  # import xarray now raises ImportError
    with pytest.raises(GenlabError, match="pip install xarray netCDF4"):
        load_netcdf(tmp_path / "a.nc", "tas")


def test_static_field_tiles_split_by_columns(tmp_path):
    v = np.arange(8 * 24, dtype=np.float32).reshape(8, 24)
    xr.Dataset({"z": (("lat", "lon"), v, {"units": "m"})},
               coords={"lat": np.linspace(-70, 70, 8), "lon": np.arange(24) * 15.0}).to_netcdf(tmp_path / "s.nc")
    whole = load_netcdf(tmp_path / "s.nc", "z", split="test")
    assert len(whole) == 1 and whole.meta["coords"]["time"] is None  # one field: every split
    tr, te = (load_netcdf(tmp_path / "s.nc", "z", split=s, size=4) for s in ("train", "test"))
    assert len(tr) == 10 and len(te) == 2 and tr.specs["x"].periodic == ()  # 2 x 6 tiles, last column held out
    assert [o[2] for o in te.meta["coords"]["tiles"]["origin"]] == [20, 20]
    np.testing.assert_array_equal(te.x[1, 0].numpy(), v[4:8, 20:24])
    out = write_netcdf(tmp_path / "tiles.nc", {"x": te.x.numpy()}, te.meta)
    back = xr.open_dataset(out)
    assert back.x.dims == ("sample", "tile_row", "tile_col")
    np.testing.assert_allclose(back.lon.values[1], [300, 315, 330, 345])


def test_grid_without_coordinates_and_two_variables_as_channels(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)  # (step, j, i) with no coordinate variables
    xr.Dataset({"u": (("step", "j", "i"), a, {"units": "m/s"}), "v": (("step", "j", "i"), -a, {"units": "M/S"})}
               ).to_netcdf(tmp_path / "c.nc")
    d = load_netcdf(tmp_path / "c.nc", "u,v", split="all")
    assert d.x.shape == (2, 2, 3, 4) and d.specs["x"].channels == ("u", "v") and d.specs["x"].units == "m/s"
    assert len(d.specs["x"].normalizer.offset) == 2 and d.meta["coords"]["lat"]["values"] is None
    out = write_netcdf(tmp_path / "o.nc", {"x": d.x.numpy()}, d.meta)
    back = xr.open_dataset(out)
    assert back.x.dims == ("step", "channel", "j", "i")
    np.testing.assert_array_equal(back.x.values[:, 1], -a)


# --- writing ------------------------------------------------------------------------------------------------

def test_write_keeps_coordinates_units_and_refuses_to_overwrite(tmp_path):
    v = synthetic(tmp_path / "a.nc", fmt="NETCDF3_CLASSIC")
    d = load_netcdf(tmp_path / "a.nc", "tas", split="test")
    data = d.specs["x"].normalizer.to_data(d.batch(slice(None)).x).numpy()
    data[d.tensors["x_valid"].numpy() == 0] = np.nan
    out = write_netcdf(tmp_path / "o.nc", {"x": data, "x_valid": d.tensors["x_valid"].numpy()}, d.meta)
    back = xr.open_dataset(out, decode_times=False)
    assert back.x.dims == ("time", "lat", "lon") and back.x.attrs["units"] == "K"
    assert back.x.attrs["long_name"] == "air temperature"
    np.testing.assert_array_equal(back.lat.values, [-40, -20, 0, 20, 40])
    np.testing.assert_array_equal(back.time.values, [240.0, 270.0])
    assert back.time.attrs == {"units": "days since 2000-01-01", "calendar": "360_day"}
    np.testing.assert_allclose(back.x.values, v[8:], atol=1e-3)  # NaN where missing, on both sides
    assert np.array_equal(back.x_valid.values, np.isfinite(v[8:]).astype(np.uint8))
    back.close()
    with pytest.raises(GenlabError, match="exists"):
        write_netcdf(out, {"x": data}, d.meta)
    write_netcdf(out, {"x": data[:1]}, d.meta, units="degC", force=True)  # 1 != 2 steps: a sample axis
    again = xr.open_dataset(out)
    assert again.x.dims == ("sample", "lat", "lon") and again.x.attrs["units"] == "degC"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nc", "o.nc"]  # no temp files left
    with pytest.raises(GenlabError, match="do not fit"):
        write_netcdf(tmp_path / "bad.nc", {"x": data[:, :, :3]}, d.meta)


# --- the registered real datasets -------------------------------------------------------------------------

REAL = [  # name, options, split, N, (C, H, W), units, observed fraction (measured), periodic
    pytest.param("coads", {}, "all", 12, (1, 90, 180), "Deg C", 0.5390, (2,)),
    pytest.param("coads", {"var": "uwnd"}, "test", 2, (1, 90, 180), "M/S", 0.5335, (2,)),
    pytest.param("levitus", {}, "train", 1, (1, 180, 360), "DEG C", 0.6507, (2,)),
    pytest.param("levitus", {"var": "salt", "level": "5000"}, "train", 1, (1, 180, 360), "PPT", 0.1062, (2,)),
    pytest.param("navy-winds", {"var": "vwnd"}, "test", 26, (1, 73, 144), "M/S", 1.0, (2,)),
    pytest.param("etopo", {}, "train", 1, (1, 180, 360), "METERS", 1.0, (2,)),
    pytest.param("etopo", {"res": 20, "size": 60}, "test", 36, (1, 60, 60), "METERS", 1.0, ()),  # 9 x 18 tiles
    pytest.param("na-air-temp", {}, "test", 48, (1, 37, 49), "K", 1.0, ()),
    pytest.param("ostia", {}, "train", 43, (1, 18, 432), "K", 0.7357, (2,)),
]


@pytest.mark.parametrize("name,opts,split,n,shape,units,observed,periodic", REAL)
def test_registered_dataset_loads(name, opts, split, n, shape, units, observed, periodic):
    d = load_dataset(f"{name}:{split}", **opts)
    print(f"{name} {opts}: observed fraction {d.meta['observed_fraction']:.4f}")
    spec = d.specs["x"]
    assert len(d) == n and tuple(d.x.shape[1:]) == shape == spec.shape and d.x.dtype == torch.float32
    assert spec.units == units and spec.kind == "field" and spec.periodic == periodic
    assert observed - 0.02 <= d.meta["observed_fraction"] <= observed + 0.02
    assert (spec.valid == "x_valid") == (observed < 1.0) and ("x_valid" in d.tensors) == (observed < 1.0)
    b = d.batch(slice(0, 4))
    assert torch.isfinite(b.x).all() and b.x.abs().max() < 20  # standardised
    assert d.meta["coords"]["lat"]["order"] == "south_to_north"


def test_coads_holds_out_april_and_october_and_etopo20_drops_its_repeated_column():
    te, tr = load_dataset("coads:test"), load_dataset("coads:train")
    assert te.meta["month"] == [4, 10] and len(tr) == 10 and 4 not in tr.meta["month"]
    assert te.specs["x"].normalizer == tr.specs["x"].normalizer  # statistics of the training months
    assert te.meta["coords"]["time"]["iso"] is None  # Ferret's year-0 climatology axis stays numeric
    e = load_dataset("etopo", res=20)
    assert e.x.shape == (1, 1, 540, 1080) and e.meta["coords"]["lon"]["dropped_duplicate"]
    assert e.specs["x"].periodic == (2,)


def test_options_come_from_the_data_config_and_are_checked():
    cfg = build(DataConfig, {"name": "levitus", "var": "temp", "level": 100, "region": "-30,30,120,280"}, "data")
    d = load_dataset(cfg.name, cfg.split, **cfg.options())
    assert d.x.shape == (1, 1, 60, 160) and d.meta["coords"]["level"]["value"] == 100.0
    with pytest.raises(GenlabError, match="does not take option"):
        load_dataset("navy-winds", level="0")
    with pytest.raises(GenlabError, match="SST, AIRT, SPEH, WSPD, UWND, VWND, SLP"):
        load_dataset("coads", var="sea_temp")
    with pytest.raises(GenlabError, match="5, 20, 40, 60, 120"):
        load_dataset("etopo", res=30)


def test_missing_packaged_files_name_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(climate, "FERRET_DIR", tmp_path)
    with pytest.raises(GenlabError, match="apt-get install ferret-datasets"):
        load_dataset("coads")
    monkeypatch.setitem(sys.modules, "iris_sample_data", None)
    with pytest.raises(GenlabError, match="pip install iris-sample-data"):
        load_dataset("ostia")
    with pytest.raises(GenlabError, match="data.path=.* not found"):
        load_dataset("na-air-temp", path=str(tmp_path / "nope.nc"))
    with pytest.raises(GenlabError, match="needs data.path"):
        load_dataset("netcdf", var="x")
