"""Climate gap filling (issue 15, item 3): COADS gap masks and hold-out sets, area-weighted scores by hand,
the kriging/linear/nearest baselines on a smooth field, grid mapping, `genlab impute` (netCDF round trip,
bad input) and the gap-fill record of `genlab eval`.

COADS SST (coads_climatology.cdf) is observed in 0.539 of its 12 x 90 x 180 cells (tests/test_netcdf.py)."""
import json

import numpy as np
import pytest
import torch

from genlab.apply import gap_baselines as gb
from genlab.apply.grids import Grid, regrid
from genlab.cli.main import main
from genlab.data import load_dataset
from genlab.data.gaps import coads_observed, holdout_sets, regrid_mask
from genlab.metrics import climate

import xarray as xr  # noqa: E402  (make test installs xarray, netCDF4 and ferret-datasets)

COADS = "/usr/share/ferret-vis/data/coads_climatology.cdf"


def one_line(capsys, argv, *needles):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error:"), err
    for n in needles:
        assert n in err[0], (n, err[0])
    return err[0]


# --- masks and hold-out sets ---------------------------------------------------------------------------

def test_coads_gap_masks_are_real_gaps_regridded_and_drawn_from_the_generator():
    obs, lat, lon, units = coads_observed("sst")
    assert obs.shape == (12, 90, 180) and units == "Deg C" and abs(obs.mean() - 0.539) < 0.001
    d = load_dataset("coads-holdout", "train", derive="mask:coads:sst:0.2")
    batch = lambda seed: d.batch(torch.arange(6), generator=torch.Generator().manual_seed(seed))  # noqa: E731
    a, b, c = batch(0), batch(0), batch(1)
    m, valid = a["mask"], a["x_valid"]
    assert m.shape == (6, 1, 90, 180) and torch.equal(m, b["mask"]) and not torch.equal(m, c["mask"])
    assert (m <= valid).all()  # known only where observed (and not held out)
    share = (m.sum() / valid.sum()).item()
    assert 0.65 < share < 0.85, share  # real gaps of another month, then ~20 % more hidden
    # on another grid (FNOC winds, 2.5°): nearest COADS cell; the Sahara (20°N, 10°E) is never observed
    w = load_dataset("navy-winds", "test", derive="mask:coads:uwnd")
    mw = w.batch(torch.arange(8), generator=torch.Generator().manual_seed(0))["mask"]
    glat, glon = np.asarray(w.meta["coords"]["lat"]["values"]), np.asarray(w.meta["coords"]["lon"]["values"])
    i, j = np.abs(glat - 20).argmin(), np.abs(glon - 10).argmin()
    assert mw.shape == (8, 1, 73, 144) and mw[:, 0, i, j].sum() == 0 and 0.4 < mw.mean() < 0.7
    ref = regrid_mask(coads_observed("uwnd")[0], lat, lon, glat, glon)
    assert any(torch.equal(mw[0, 0], torch.from_numpy(r).float()) for r in ref)  # one month's real mask
    small = load_dataset("coads-holdout", "train", derive="crop:32,mask:coads").batch(
        torch.arange(2), generator=torch.Generator().manual_seed(0))
    assert small["mask"].shape == (2, 1, 32, 32) and (small["mask"] <= small["x_valid"]).all()


def test_holdout_sets_are_seeded_disjoint_blocks_and_points_never_stored_for_training():
    obs = coads_observed("sst")[0]
    pts, blk = holdout_sets(obs, seed=0)
    assert not (pts & blk).any() and not ((pts | blk) & ~obs).any()
    n = obs.sum((1, 2))
    assert np.array_equal(pts.sum((1, 2)), np.round(0.1 * n).astype(int))
    assert ((blk.sum((1, 2)) >= np.round(0.1 * n)) & (blk.sum((1, 2)) < 0.1 * n + 25)).all()
    # blocks are contiguous: almost every hidden block cell has a hidden 4-neighbour (scattered ones rarely do)
    def neighbours(s):
        nb = np.zeros_like(s)
        nb[:, 1:] |= s[:, :-1]
        nb[:, :-1] |= s[:, 1:]
        return (nb | np.roll(s, 1, 2) | np.roll(s, -1, 2))[s].mean()
    assert neighbours(blk) > 0.95 and neighbours(pts) < 0.4
    again, other = holdout_sets(obs, seed=0), holdout_sets(obs, seed=1)
    assert np.array_equal(again[0], pts) and np.array_equal(again[1], blk) and not np.array_equal(other[1], blk)
    train, test = load_dataset("coads-holdout", "train"), load_dataset("coads-holdout", "test")
    tv, x = train.tensors["x_valid"][:, 0].numpy().astype(bool), train.tensors["x"][:, 0].numpy()
    assert np.array_equal(tv, obs & ~(pts | blk)) and np.array_equal(test.tensors["x_valid"][:, 0].numpy() > 0, obs)
    held = pts | blk
    assert np.all(x[held] == np.float32(train.specs["x"].normalizer.offset[0]))  # the values are not kept
    truth = xr.open_dataset(COADS, decode_times=False).SST.values
    assert np.allclose(test.tensors["x"][:, 0].numpy()[held], truth[held])


# --- scores --------------------------------------------------------------------------------------------

def test_area_weighted_rmse_mae_bias_and_mean_series_correlation_by_hand():
    w = climate.area_weights(np.array([0.0, 60.0]), (2, 3))
    assert np.allclose(w, [[1, 1, 1], [0.5, 0.5, 0.5]])
    truth = np.zeros((1, 2, 3))
    pred = np.array([[[1.0, 9.0, 9.0], [-2.0, 9.0, 9.0]]])
    where = np.array([[[True, False, False], [True, False, False]]])
    assert climate.rmse(pred, truth, where, w) == pytest.approx(np.sqrt((1 * 1 + 0.5 * 4) / 1.5), rel=1e-12)
    assert climate.mae(pred, truth, where, w) == pytest.approx((1 + 0.5 * 2) / 1.5, rel=1e-12)
    assert climate.bias(pred, truth, where, w) == pytest.approx((1 - 0.5 * 2) / 1.5, abs=1e-12)
    assert climate.rmse(pred, truth, where, np.ones((2, 3))) == pytest.approx(np.sqrt(2.5), rel=1e-12)  # unweighted
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.1, 5.9, 8.5])
    r = climate.pearson(a, b)
    am, bm = a - a.mean(), b - b.mean()
    assert r == pytest.approx((am * bm).sum() / np.sqrt((am ** 2).sum() * (bm ** 2).sum()), rel=1e-12)
    assert 0.99 < r < 1.0 and climate.pearson(a, -b) == pytest.approx(-r)
    assert np.isnan(climate.pearson(a, np.ones(4))) and np.isnan(climate.pearson(a[:2], b[:2]))
    x = np.stack([np.full((2, 3), 1.0), np.array([[2.0, 0, 0], [5.0, 0, 0]])])  # (2 months, 2, 3)
    ws = np.stack([where[0], where[0]])
    assert np.allclose(climate.mean_series(x, ws, w), [1.0, (2 + 0.5 * 5) / 1.5])


# --- baselines -----------------------------------------------------------------------------------------

def smooth(grid: Grid) -> np.ndarray:
    la, lo = np.meshgrid(np.deg2rad(grid.lat), np.deg2rad(grid.lon), indexing="ij")
    return 25 * np.cos(la) ** 2 + 3 * np.sin(2 * lo) * np.cos(la)


def test_baselines_on_a_smooth_field_linear_beats_nearest_and_kriging_is_pykrige():
    grid = Grid.of(np.arange(-87.5, 90, 5.0), np.arange(2.5, 360, 5.0))  # 36 x 72, periodic
    f = smooth(grid)
    rng = np.random.default_rng(0)
    known = rng.random(f.shape) < 0.5
    targets = ~known & (rng.random(f.shape) < 0.2)
    targets[:, 0] = targets[:, -1] = True  # at the seam
    targets &= ~known
    w = climate.area_weights(grid.lat, f.shape)
    err = {}
    for name in ("linear", "nearest", "kriging"):
        pred, _ = gb.fill_months(name, f[None], known[None], targets[None], grid)
        assert np.isfinite(pred[0][targets]).all() and np.isnan(pred[0][~targets]).all()
        err[name] = climate.rmse(pred, f[None], targets[None], w)
    assert err["linear"] < 0.15 and err["kriging"] < 0.15, err  # field std ~9
    assert err["nearest"] > 2 * err["linear"] and err["nearest"] < 1.5, err
    from pykrige.ok import OrdinaryKriging

    la, lo = np.nonzero(known)
    sub = rng.choice(len(la), 300, replace=False)
    x, y, z = grid.lon[lo][sub], grid.lat[la][sub], f[known][sub]
    ok = OrdinaryKriging(x, y, z, variogram_model="exponential", coordinates_type="geographic", nlags=20)
    qx, qy = np.array([7.5, 182.5, 357.5]), np.array([-12.5, 42.5, 2.5])
    want, _ = ok.execute("points", qx, qy, n_closest_points=16, backend="loop")
    got = gb.krige_window(x, y, z, qx, qy, ok.variogram_function, ok.variogram_model_parameters, n_closest=16)
    assert np.allclose(got, want, atol=1e-8)


def test_regrid_is_exact_on_a_reordered_grid_and_bilinear_with_gap_shapes_kept():
    src = Grid.of(np.arange(-88.0, 90, 4.0), np.arange(0.0, 360, 4.0))
    f = smooth(src)[None]
    known = np.ones_like(f, bool)
    known[0, 10:14, 20:30] = False
    flipped = Grid.of(src.lat[::-1], (src.lon + 180) % 360 - 180)  # north-to-south, -180..180
    v, k = regrid(f, known, src, flipped)
    order = np.argsort(np.mod(flipped.lon, 360))
    assert np.array_equal(v[0][::-1][:, order], np.where(known[0], f[0], np.nan), equal_nan=True)
    assert np.array_equal(k[0][::-1][:, order], known[0])
    shifted = Grid.of(src.lat[:-1] + 2.0, src.lon + 2.0)  # half a cell: bilinear
    lin = 0.3 * src.lat[:, None] + 0 * src.lon[None, :]
    v, k = regrid(lin[None], np.ones_like(lin[None], bool), src, shifted)
    assert np.allclose(v[0], 0.3 * shifted.lat[:, None] + 0 * shifted.lon[None, :], atol=1e-9)
    v, k = regrid(f, known, src, shifted)
    assert (~k[0]).sum() == (~known[0]).sum()  # the gap keeps its size (nearest cell)


# --- genlab impute -------------------------------------------------------------------------------------

TINY = ["--model.depth=2", "--model.base=4", "--model.max_channels=8", "--train.steps=1", "--train.batch_size=2",
        "--train.progress=false"]


@pytest.fixture(scope="module")
def gap_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gap") / "run"
    assert main(["train", "inpaint", "--data", "coads-holdout", "--data.derive=mask:coads:sst:0.2", *TINY,
                 "--out", str(out)]) == 0
    return out


def write_input(path, *, months=2, flip=True, units="Deg C", fill=-1e34, sentinel=None, declare=True,
                step=2.0, lon0=21.0, values=None):
    """COADS SST of the first months as a new file: rows north-to-south, extra attributes, _FillValue `fill`."""
    src = xr.open_dataset(COADS, decode_times=False)
    v = src.SST.values[:months].astype(np.float32) if values is None else values
    lat, lon = src.COADSY.values, src.COADSX.values
    if step != 2.0:
        lat, lon = np.arange(-88.0, 90, step), np.arange(lon0, lon0 + 360, step)
        v = np.full((months, len(lat), len(lon)), 15.0, np.float32)
        v[:, ::3] = np.nan
    if flip:
        v, lat = v[:, ::-1], lat[::-1]
    if sentinel is not None:
        v = np.where(np.isnan(v), sentinel, v)
    attrs = {"long_name": "SEA SURFACE TEMPERATURE", "comment_src": "a test", **({"units": units} if units else {})}
    ds = xr.Dataset({"sst": (("time", "lat", "lon"), v, attrs)},
                    coords={"time": ("time", np.arange(months) * 730.0, {"units": "hour since 0000-01-01"}),
                            "lat": ("lat", lat, {"units": "degrees_north"}),
                            "lon": ("lon", lon, {"units": "degrees_east"})},
                    attrs={"title": "impute test", "history": "made by a test"})
    ds.sst.encoding["_FillValue"] = np.float32(fill) if declare else None
    ds.to_netcdf(path)
    return v


def test_impute_round_trip_keeps_coordinates_attributes_and_fill_value(gap_run, tmp_path, capsys):
    inp, out = tmp_path / "in.nc", tmp_path / "out.nc"
    v = write_input(inp)
    assert main(["impute", str(gap_run), "--input", str(inp), "--var", "SST", "--out", str(out)]) == 0
    assert "variables gt, mask, output, infilled" in capsys.readouterr().out
    a, b = xr.open_dataset(out, decode_times=False), xr.open_dataset(inp, decode_times=False)
    for c in ("time", "lat", "lon"):
        assert np.array_equal(a[c].values, b[c].values) and a[c].attrs == b[c].attrs
    assert a.gt.dims == b.sst.dims == a.infilled.dims == a.mask.dims
    assert np.array_equal(a.gt.values, v, equal_nan=True) and a.gt.encoding["_FillValue"] == np.float32(-1e34)
    assert a.gt.attrs["units"] == "Deg C" and a.gt.attrs["comment_src"] == "a test"
    assert np.array_equal(a.mask.values == 1, np.isfinite(v))
    known = np.isfinite(v)
    assert np.array_equal(a.infilled.values[known], v[known]) and np.isfinite(a.infilled.values).all()
    assert np.isfinite(a.output.values).all() and a.attrs["title"] == "impute test"
    assert a.attrs["history"].startswith("made by a test\n") and "genlab impute" in a.attrs["history"]
    # a coarser grid in another longitude convention is mapped onto the run's grid and back
    coarse = tmp_path / "coarse.nc"
    vc = write_input(coarse, step=4.0, lon0=-178.0, flip=False)
    assert main(["impute", str(gap_run), "--input", str(coarse), "--var", "sst", "--out", str(tmp_path / "c.nc")]) == 0
    assert "mapped from 45x90" in capsys.readouterr().err
    c = xr.open_dataset(tmp_path / "c.nc", decode_times=False)
    assert c.infilled.shape == vc.shape and np.isfinite(c.infilled.values).all()
    assert np.array_equal(c.infilled.values[np.isfinite(vc)], vc[np.isfinite(vc)])


def test_impute_bad_inputs_are_one_line_and_touch_nothing(gap_run, tmp_path, capsys):
    inp, out = tmp_path / "in.nc", tmp_path / "out.nc"
    write_input(inp, months=1)
    base = ["impute", str(gap_run), "--var", "sst", "--out"]
    assert main(base + [str(out), "--input", str(inp)]) == 0
    before = out.read_bytes()
    one_line(capsys, base + [str(out), "--input", str(inp)], "already exists", "--force")
    one_line(capsys, base + [str(inp), "--input", str(inp)], "is the --input")
    one_line(capsys, ["impute", str(gap_run), "--input", str(inp), "--var", "tos", "--out", str(tmp_path / "x.nc")],
             "has no variable 'tos'", "it has: sst")
    cases = {"kelvin.nc": ({"units": "K"}, "trained on 'Deg C'"), "nounits.nc": ({"units": ""}, "--units"),
             "sentinel.nc": ({"sentinel": -999.0, "fill": 1e20}, "declare them"),
             "empty.nc": ({"values": np.full((1, 90, 180), np.nan, np.float32)}, "every value"),
             "fine.nc": ({"step": 0.25}, "factor over 4")}
    for name, (kw, needle) in cases.items():
        write_input(tmp_path / name, months=1, **kw)
        one_line(capsys, base + [str(tmp_path / "x.nc"), "--input", str(tmp_path / name)], needle)
    assert out.read_bytes() == before and not (tmp_path / "x.nc").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left
    # NaN gaps that the file does not declare are handled, and said
    write_input(tmp_path / "nan.nc", months=1, declare=False)
    assert main(base + [str(tmp_path / "x.nc"), "--input", str(tmp_path / "nan.nc")]) == 0
    assert "NaN values not marked missing" in capsys.readouterr().err
    assert main(base + [str(out), "--input", str(inp), "--force"]) == 0


def test_eval_records_gap_fill_beside_the_baselines_and_the_report_shows_it(gap_run, monkeypatch, capsys):
    from genlab.metrics import gapfill

    monkeypatch.setattr(gapfill, "METHODS", ("nearest",))  # kriging/linear cost ~1 min; tested above
    assert main(["eval", str(gap_run)]) == 0
    text = capsys.readouterr().out
    assert "[points: 10478 hidden cells]" in text and "[blocks: 10592 hidden cells]" in text
    rec = [r for r in json.loads((gap_run / "metrics.json").read_text())["records"] if r["kind"] == "gap-fill"]
    assert len(rec) == 1
    v, p = rec[0]["values"], rec[0]["protocol"]
    assert p["holdout_seed"] == 0 and p["units"] == "Deg C" and "never on the hidden cells" in p["training"]
    assert 0.4 < v["points_nearest_rmse"] < 0.8 and 0.8 < v["blocks_nearest_rmse"] < 1.5  # measured 0.598, 1.124
    assert v["points_nearest_corr_mean_series"] > 0.99 and len(v["points_model_rmse_per_month"]) == 12
    assert v["points_rmse_vs_nearest"] == pytest.approx(1 - v["points_model_rmse"] / v["points_nearest_rmse"])
    # network + kriged leave-out residuals: kriging takes most of a 1-step network's error away (measured 9.75 ->
    # 1.31 °C), but not below what kriging of the field itself reaches (0.431)
    assert 0.3 < v["points_model+rk_rmse"] < 0.3 * v["points_model_rmse"], v["points_model+rk_rmse"]
    assert v["points_rk_rmse_vs_nearest"] == pytest.approx(1 - v["points_model+rk_rmse"] / v["points_nearest_rmse"])
    assert v["points_rk_residual_rms"] > 0 and set(v["bars_rk"]) == set(v["bars"])
    assert "model+rk" in text and "apply/residual_kriging.py" in p["model+rk"]
    # with the neighbouring months' mean as a second predictor (weight fitted on leave-out outputs only)
    # a 1-step network is worth little beside the neighbours: weight ≈ 1 (measured 1.006), and the RMSE falls
    # (measured 1.31 -> 0.85 °C) without reaching anomaly-kriging's 0.43 (the network's cells lack a neighbour)
    assert 0.8 < v["points_rkn_coefficients"][0] < 1.2, v["points_rkn_coefficients"]
    assert 0.45 < v["points_model+nb+rk_rmse"] < 0.8 * v["points_model+rk_rmse"], v["points_model+nb+rk_rmse"]
    assert "model+nb+rk" in text and "least squares on the leave-out" in p["model+nb+rk"]
    assert set(v["bars_rkn"]) == set(v["bars"]) and len(v["points_rkn_coefficients"]) == 1
    assert (gap_run / "gapfill" / "gapfill-map.png").is_file()
    assert "Gap filling (hidden real observations)" in (gap_run / "report.html").read_text()


def test_eval_refuses_the_self_ensemble_for_physical_fields(gap_run, capsys):
    """Flipping an SST map puts coasts on the wrong side: --self-ensemble is for photos only."""
    before = (gap_run / "metrics.json").read_bytes() if (gap_run / "metrics.json").exists() else None
    capsys.readouterr()
    assert main(["eval", str(gap_run), "--self-ensemble", "flips"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "only right for photos" in err[0], err
    assert before == ((gap_run / "metrics.json").read_bytes() if (gap_run / "metrics.json").exists() else None)


def test_impute_with_an_ensemble_and_residual_kriging(gap_run, tmp_path, capsys):
    """--ensemble RUN2 (another train.seed) averages the two networks; --residual-kriging changes only the gap
    cells and keeps every observation; a member trained on other data is refused in one line."""
    run2 = tmp_path / "run2"
    assert main(["train", "inpaint", "--data", "coads-holdout", "--data.derive=mask:coads:sst:0.2", *TINY,
                 "--train.seed=1", "--out", str(run2)]) == 0
    inp = tmp_path / "in.nc"
    v = write_input(inp, months=1)
    known = np.isfinite(v)
    outs = {}
    for name, extra in (("one", []), ("two", ["--ensemble", str(run2)]),
                        ("rk", ["--ensemble", str(run2), "--residual-kriging"])):
        out = tmp_path / f"{name}.nc"
        assert main(["impute", str(gap_run), "--input", str(inp), "--var", "sst", "--out", str(out), *extra]) == 0
        outs[name] = xr.open_dataset(out, decode_times=False)
    assert "residual kriging: leave-out residual rms" in capsys.readouterr().err
    one, two, rk = (outs[k].output.values for k in ("one", "two", "rk"))
    assert np.abs(two - one)[~known].max() > 1e-3  # the second network changes the mean
    assert np.array_equal(rk[known], two[known]) and np.abs(rk - two)[~known].mean() > 1e-3
    assert np.array_equal(outs["rk"].infilled.values[known], v[known]) and np.isfinite(outs["rk"].infilled.values).all()
    assert "--residual-kriging" in outs["rk"].attrs["history"]
    other = tmp_path / "other"
    assert main(["train", "inpaint", "--data", "coads-holdout", "--data.derive=mask:coads:sst:0.2", *TINY,
                 "--data.seed=1", "--out", str(other)]) == 0
    target = tmp_path / "refused.nc"
    capsys.readouterr()
    assert main(["impute", str(gap_run), "--input", str(inp), "--var", "sst", "--out", str(target),
                 "--ensemble", str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data.seed" in err[0] and "not the same model" in err[0], err
    assert not target.exists()


def test_impute_residual_kriging_with_the_neighbour_mean(gap_run, tmp_path, capsys):
    """--rk-neighbours adds the mean of months t ± 1 as a predictor: only the gaps change, the weight is said,
    and it is refused in one line without --residual-kriging or with a single field (nothing written)."""
    inp = tmp_path / "in3.nc"
    v = write_input(inp, months=3)
    known = np.isfinite(v)
    outs = {}
    for name, extra in (("rk", ["--residual-kriging"]), ("nb", ["--residual-kriging", "--rk-neighbours"])):
        out = tmp_path / f"{name}.nc"
        capsys.readouterr()
        assert main(["impute", str(gap_run), "--input", str(inp), "--var", "sst", "--out", str(out), *extra]) == 0
        outs[name] = (xr.open_dataset(out, decode_times=False), capsys.readouterr().err)
    (rk, _), (nb, err) = outs["rk"], outs["nb"]
    assert "neighbour-mean weight" in err and "--rk-neighbours" in nb.attrs["history"]
    assert np.array_equal(nb.infilled.values[known], v[known]) and np.isfinite(nb.infilled.values).all()
    assert np.abs(nb.output.values - rk.output.values)[~known].mean() > 1e-3
    target = tmp_path / "refused.nc"
    one_line(capsys, ["impute", str(gap_run), "--input", str(inp), "--var", "sst", "--out", str(target),
                      "--rk-neighbours"], "add --residual-kriging")
    one = tmp_path / "one.nc"
    write_input(one, months=1)
    one_line(capsys, ["impute", str(gap_run), "--input", str(one), "--var", "sst", "--out", str(target),
                      "--residual-kriging", "--rk-neighbours"], "holds one field")
    assert not target.exists()


def test_eval_rk_anomaly_adds_the_stacked_row_and_is_refused_elsewhere(gap_run, monkeypatch, capsys, tmp_path):
    """`genlab eval --rk-anomaly`: model+nb+ak+rk with two fitted weights (neighbour mean, anomaly-kriging's
    leave-out estimate), its own bars and protocol line, recorded beside the plain record. Kriging is swapped
    for nearest-neighbour here (the wiring, not the variogram, is under test; kriging every known cell costs
    minutes). On a run not trained for gap filling the flag is a one-line error."""
    from genlab.metrics import gapfill

    monkeypatch.setattr(gapfill, "METHODS", ("nearest",))
    monkeypatch.setitem(gb.BASELINES, "kriging", gb.nearest)
    assert main(["eval", str(gap_run), "--rk-anomaly"]) == 0
    text = capsys.readouterr().out
    rec = [r for r in json.loads((gap_run / "metrics.json").read_text())["records"]
           if r["kind"] == "gap-fill" and "model+nb+ak+rk" in r["protocol"]]
    assert len(rec) == 1
    v = rec[0]["values"]
    assert len(v["points_rka_coefficients"]) == 2 and set(v["bars_rka"]) == set(v["bars"])
    # a 1-step network is worth little beside the two interpolations: their weights carry the trend
    assert sum(v["points_rka_coefficients"]) > 0.8, v["points_rka_coefficients"]
    assert 0 < v["points_model+nb+ak+rk_rmse"] < v["points_model+rk_rmse"]
    assert "  model+nb+ak+rk " in text and "bars (model+nb+ak+rk) met" in text
    assert "stacking" in rec[0]["protocol"]["model+nb+ak+rk"]
    plain = tmp_path / "vae"
    assert main(["train", "vae", "--data", "digits", "--train.steps=1", "--train.progress=false", "--out",
                 str(plain)]) == 0
    one_line(capsys, ["eval", str(plain), "--rk-anomaly"], "--rk-anomaly", "drop --rk-anomaly")
