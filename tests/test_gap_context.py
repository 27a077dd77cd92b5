"""Neighbouring months as input channels of the gap-filling network (issue 15, item 3): the `coads-holdout`
option data.context=K, the inpaint model's `model.context_field`, and their use by genlab eval and impute
(no leak of the hidden cells; one-line refusals)."""
import json

import numpy as np
import pytest
import torch

from genlab.apply.impute import infill_on_run_grid
from genlab.cli.main import main
from genlab.data import load_dataset
from genlab.data.gaps import holdout_sets, neighbour_steps
from genlab.errors import GenlabError
from genlab.runs import load_run

from test_impute import one_line, write_input

TINY = ["--model.depth=2", "--model.base=4", "--model.max_channels=8", "--train.steps=2", "--train.batch_size=2",
        "--train.progress=false"]


def test_neighbour_steps_cyclic_and_open_ends_by_hand():
    v = np.arange(4, dtype=np.float64)[:, None, None] * np.ones((4, 2, 3))
    k = np.ones(v.shape, bool)
    k[2, 0, 0] = False
    nv, nk = neighbour_steps(v, k, 1, cyclic=True)
    assert nv.shape == (4, 2, 2, 3)
    assert nv[:, 0, 0, 1].tolist() == [3, 0, 1, 2] and nv[:, 1, 0, 1].tolist() == [1, 2, 3, 0]
    assert not nk[1, 1, 0, 0] and not nk[3, 0, 0, 0] and nk[1, 0, 0, 0]  # step 2's gap, seen from 1 and 3
    ov, ok = neighbour_steps(v, k, 2, cyclic=False)
    assert ov.shape == (4, 4, 2, 3) and not ok[0, :2].any() and not ok[3, 2:].any()  # beyond the ends: unknown
    assert ov[1, :, 0, 1].tolist() == [0, 0, 2, 3] and ok[1, [1, 3]].all() and not ok[1, 0].any()
    assert not ok[1, 2, 0, 0] and ok[1, 2].sum() == 5  # step 2's gap again


def test_coads_holdout_context_holds_the_neighbouring_months_of_the_split_only():
    d = load_dataset("coads-holdout", "train", context=1)
    x, xv = d.tensors["x"][:, 0].numpy(), d.tensors["x_valid"][:, 0].numpy()
    c, cv = d.tensors["x_months"].numpy(), d.tensors["x_months_valid"].numpy()
    assert c.shape == (12, 2, 90, 180) and d.specs["x_months"].valid == "x_months_valid"
    assert d.specs["x_months"].channels == ("sst[t-1]", "sst[t+1]") and d.specs["x_months"].periodic == (2,)
    assert np.array_equal(c[:, 0], np.roll(x, 1, 0)) and np.array_equal(c[:, 1], np.roll(x, -1, 0))
    assert np.array_equal(cv[0, 0], xv[11]) and np.array_equal(cv[11, 1], xv[0])  # December <-> January
    obs = load_dataset("coads-holdout", "test").tensors["x_valid"][:, 0].numpy().astype(bool)
    pts, blk = holdout_sets(obs, seed=0)
    held = np.roll(pts | blk, 1, 0)  # month t-1's held-out cells, as seen from month t
    assert not cv[:, 0][held].any()  # never stored for training, in any channel
    assert d.meta["context"]["steps"] == 1 and d.meta["context"]["cyclic"]
    with pytest.raises(GenlabError, match="data.context"):
        load_dataset("coads-holdout", "train", context=9)


@pytest.fixture(scope="module")
def ctx_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ctx") / "run"
    assert main(["train", "inpaint", "--data", "coads-holdout", "--data.context=1", "--data.derive=mask:coads:sst:0.2",
                 "--model.context_field=x_months", *TINY, "--out", str(out)]) == 0
    return out


def test_context_run_reads_the_context_and_the_hidden_month_never_leaks(ctx_run):
    r = load_run(ctx_run)
    model, norm = r.model, r.info.fields["x"].normalizer
    assert model.ctx_channels == 2 and r.meta["context"]["period"] == 12
    x, m = torch.zeros(1, 1, 90, 180), torch.ones(1, 1, 90, 180)
    with pytest.raises(GenlabError, match="context channel"):
        model.infill(x, m)
    a = model.infill(x, m, torch.zeros(1, 2, 90, 180), torch.ones(1, 2, 90, 180))
    b = model.infill(x, m, torch.full((1, 2, 90, 180), 2.0), torch.ones(1, 2, 90, 180))
    assert a.shape == (1, 1, 90, 180) and not torch.allclose(a, b)  # the network reads the context
    test = load_dataset("coads-holdout", "test")
    values = np.where(test.tensors["x_valid"][:, 0].numpy() > 0, test.tensors["x"][:, 0].numpy(), np.nan)
    obs = np.isfinite(values)
    pts, _ = holdout_sets(obs, seed=0)
    known = obs & ~pts
    out, _ = infill_on_run_grid(model, norm, None, values, known, None, context=r.meta["context"], context_known=obs)
    poisoned = np.where(pts, 99.0, values)  # the hidden values of every month replaced
    out2, _ = infill_on_run_grid(model, norm, None, poisoned, known, None, context=r.meta["context"],
                                 context_known=obs & ~np.roll(pts, 0, 0))
    assert out.shape == (12, 90, 180) and np.isfinite(out).all()
    # month t's output depends on months t +- 1, so poisoning only month 5's hidden cells leaves month 5 unchanged
    only5 = values.copy()
    only5[5][pts[5]] = 99.0
    out3, _ = infill_on_run_grid(model, norm, None, only5, known, None, context=r.meta["context"], context_known=obs)
    assert np.array_equal(out3[5], out[5]) and not np.array_equal(out3[4], out[4])
    assert not np.array_equal(out2, out)


def test_impute_and_eval_with_a_context_run(ctx_run, tmp_path, capsys, monkeypatch):
    from genlab.metrics import gapfill

    inp = tmp_path / "in.nc"
    write_input(inp, months=12)
    assert main(["impute", str(ctx_run), "--input", str(inp), "--var", "sst", "--out", str(tmp_path / "o.nc")]) == 0
    write_input(tmp_path / "two.nc", months=2)
    assert main(["impute", str(ctx_run), "--input", str(tmp_path / "two.nc"), "--var", "sst", "--out",
                 str(tmp_path / "t.nc")]) == 0
    assert "neighbours beyond the ends are unknown" in capsys.readouterr().err
    write_input(tmp_path / "one.nc", months=1)
    one_line(capsys, ["impute", str(ctx_run), "--input", str(tmp_path / "one.nc"), "--var", "sst", "--out",
                      str(tmp_path / "x.nc")], "neighbouring time steps", "one field")
    assert not (tmp_path / "x.nc").exists()
    monkeypatch.setattr(gapfill, "METHODS", ("nearest",))
    assert main(["eval", str(ctx_run)]) == 0
    rec = [r for r in json.loads((ctx_run / "metrics.json").read_text())["records"] if r["kind"] == "gap-fill"][0]
    assert "neighbouring months" in rec["protocol"]["model_inputs"] and "points_model_rmse" in rec["values"]


def test_anomaly_kriging_recovers_a_rough_persistent_pattern_that_spatial_kriging_cannot():
    from genlab.apply.gap_baselines import fill_anomaly_months, fill_months
    from genlab.apply.grids import Grid

    rng = np.random.default_rng(0)
    lat, lon = np.arange(-39.0, 40, 2.0), np.arange(1.0, 360, 4.0)  # 40 x 90, periodic
    grid = Grid.of(lat, lon)
    base = rng.normal(0, 1, (40, 90))  # a rough pattern every month shares
    months = np.arange(6)[:, None, None]
    smooth = np.sin(np.deg2rad(lon))[None, None, :] * (1 + 0.3 * months) + 0.02 * lat[None, :, None] * months
    values = base + smooth
    obs = np.ones(values.shape, bool)  # (with gaps of the neighbours, the anomaly mixes one- and two-month means)
    obs[2, :5, :5] = obs[1, :5, :5] = obs[3, :5, :5] = False  # month 2's corner: no neighbour observed it
    hidden = obs & (rng.random(values.shape) < 0.1)
    hidden[2, 2, 2] = True  # ... except this one hidden target with no neighbour
    obs[2, 2, 2] = True
    known = obs & ~hidden
    values = np.where(obs, values, np.nan)
    plain, _ = fill_months("kriging", values, known, hidden, grid)
    anom, details = fill_anomaly_months(values, known, hidden, grid, context_known=obs)
    err_p = np.sqrt(np.nanmean((plain - values)[hidden] ** 2))
    err_a = np.sqrt(np.nanmean((anom - values)[hidden] ** 2))
    assert err_p > 0.8 and err_a < 0.05, (err_p, err_a)  # measured 1.17 vs 0.0097
    assert details[2]["without_neighbours"] == 1 and anom[2, 2, 2] == pytest.approx(plain[2, 2, 2])
    assert np.isnan(anom[~hidden]).all() and np.isfinite(anom[hidden]).all()


def test_residual_head_adds_the_mean_of_the_valid_context_by_hand(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["train", "inpaint", "--data", "coads-holdout", "--data.context=1", "--data.derive=mask:coads:sst:0.2",
                 "--model.context_field=x_months", "--model.residual=context_mean", *TINY, "--out", str(out)]) == 0
    model = load_run(out).model
    model.network.forward = lambda xg, m: torch.zeros(xg.shape[0], 1, *xg.shape[-2:])  # U's departure: none
    c = torch.stack([torch.full((90, 180), 1.0), torch.full((90, 180), 3.0)])[None]
    cm = torch.ones(1, 2, 90, 180)
    cm[0, 0, :10] = 0  # only t+1 there
    cm[0, :, :, :5] = 0  # neither month: the local mean of the month's own known cells
    x = torch.full((1, 1, 90, 180), -1.0)
    x[..., 175:] = 5.0  # across the seam from columns 0..4 (longitude wraps)
    m = torch.zeros(1, 1, 90, 180)
    m[..., 40:, 170:] = 1.0  # known only from row 40 on, columns 170..179
    got = model.infill(x, m, c, cm)[0, 0]
    assert torch.all(got[10:, 5:] == 2.0) and torch.all(got[:10, 5:] == 3.0)
    # column 0, row 50: radius 1 holds nothing known, radius 2 holds columns 178, 179 (x = 5) of rows 48..52
    assert got[50, 0].item() == pytest.approx(5.0) and got[50, 4].item() == pytest.approx(5.0)
    # row 0, column 0: the first window reaching row 40 (radius 64) holds columns 116..179 of rows 40..64,
    # known at 170..179: five columns of 5.0 (175..179) and five of -1.0 (170..174) -> mean 2.0
    assert got[0, 0].item() == pytest.approx(2.0)
    x2 = torch.zeros(1, 1, 90, 180)
    assert torch.all(model.infill(x2, torch.zeros_like(x2), c, cm)[0, 0, :, :5] == 0.0)  # nothing known: 0
    one_line(capsys, ["train", "inpaint", "--data", "coads-holdout", "--data.derive=mask:coads:sst:0.2",
                      "--model.residual=context_mean", *TINY, "--out", str(tmp_path / "bad")], "model.context_field")
    assert not (tmp_path / "bad").exists()
