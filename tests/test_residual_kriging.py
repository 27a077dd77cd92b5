"""Network + residual kriging (apply/residual_kriging.py): leave-out residuals by hand with a network that
echoes its known cells, and on a synthetic sphere field the kriged residuals take a biased, smooth 'network'
most of the way back to the truth (two-sided: better than the network alone, not better than exact)."""
import numpy as np
import pytest

from genlab.apply.grids import Grid
from genlab.apply.residual_kriging import leave_out_residuals, residual_kriging
from genlab.errors import GenlabError
from genlab.metrics import climate


def _grid():
    return Grid.of(np.arange(-87.5, 90, 5.0), np.arange(2.5, 360, 5.0))  # 36 x 72, periodic


def test_each_known_cell_gets_one_out_of_sample_residual():
    """net = 'known cells echoed, c elsewhere': a cell's residual is z − c, because it was hidden in its fold's
    pass (an in-sample residual would be 0); unknown cells have none; the folds are seeded."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=(2, 6, 8))
    known = rng.random(values.shape) < 0.7
    calls = []

    def net(k):
        calls.append(k.copy())
        return np.where(k, values, 5.0)

    r = leave_out_residuals(net, values, known, folds=4, seed=3)
    assert np.allclose(r[known], values[known] - 5.0) and np.isnan(r[~known]).all()
    hidden = sum((known & ~k).astype(int) for k in calls)
    assert len(calls) <= 4 and (hidden[known] == 1).all()  # every known cell hidden in exactly one pass
    assert np.array_equal(r, leave_out_residuals(net, values, known, folds=4, seed=3), equal_nan=True)
    with pytest.raises(GenlabError, match="at least 2 folds"):
        leave_out_residuals(net, values, known, folds=1)


def test_kriged_residuals_correct_a_smooth_biased_network():
    grid = _grid()
    la, lo = np.meshgrid(np.deg2rad(grid.lat), np.deg2rad(grid.lon), indexing="ij")
    trend = 25 * np.cos(la) ** 2
    anomaly = 3 * np.sin(2 * lo) * np.cos(la) + 1.5 * np.cos(3 * lo) * np.sin(2 * la)  # what the 'network' misses
    truth = (trend + anomaly)[None]
    rng = np.random.default_rng(1)
    known = rng.random(truth.shape) < 0.5
    targets = ~known & (rng.random(truth.shape) < 0.3)

    def net(k):  # a network that knows only the trend, plus a constant bias
        return np.broadcast_to(trend + 0.5, truth.shape).copy()

    pred, info = residual_kriging(net, truth, known, targets, grid, folds=5)
    w = climate.area_weights(grid.lat, grid.shape)
    base = climate.rmse(np.where(targets, net(known), np.nan), truth, targets, w)
    hybrid = climate.rmse(pred, truth, targets, w)
    assert np.isfinite(pred[targets]).all() and np.isnan(pred[~targets]).all()
    assert base > 1.5 and hybrid < 0.1 * base, (base, hybrid)  # measured: base ~2.4, hybrid well below
    assert hybrid > 0  # interpolation of the anomaly, not a copy of the truth
    assert info["residual_mean"] == pytest.approx(float((truth - trend - 0.5)[known].mean()))


def test_a_covariate_that_carries_the_missed_anomaly_gets_its_weight_and_helps():
    """Trend f + a (x − f): x = trend + 0.8 × anomaly is worth a = 0.8 exactly (least squares on the leave-out
    outputs), and the hybrid beats the plain one; a covariate of pure noise gets a ≈ 0 and changes little."""
    grid = _grid()
    la, lo = np.meshgrid(np.deg2rad(grid.lat), np.deg2rad(grid.lon), indexing="ij")
    trend = 25 * np.cos(la) ** 2
    anomaly = 3 * np.sin(5 * lo) * np.cos(la) + 1.5 * np.cos(7 * lo) * np.sin(4 * la)  # short: kriging misses it
    truth = (trend + anomaly)[None]
    rng = np.random.default_rng(2)
    known = rng.random(truth.shape) < 0.3
    targets = ~known & (rng.random(truth.shape) < 0.3)

    def net(k):
        return np.broadcast_to(trend, truth.shape).copy()

    w = climate.area_weights(grid.lat, grid.shape)
    plain, _ = residual_kriging(net, truth, known, targets, grid, folds=5)
    x = (trend + 0.8 * anomaly)[None]
    x[:, :3] = np.nan  # undefined rows: no term there
    pred, info = residual_kriging(net, truth, known, targets, grid, folds=5, covariates=[x])
    assert info["coefficients"][0] == pytest.approx(1.25, rel=1e-6)  # z − f = 1.25 (x − f) where x exists
    e_plain, e_cov = (climate.rmse(p, truth, targets, w) for p in (plain, pred))
    assert e_cov < 0.5 * e_plain and e_cov > 0, (e_plain, e_cov)
    noise = (trend + rng.normal(size=trend.shape))[None]
    pred_n, info_n = residual_kriging(net, truth, known, targets, grid, folds=5, covariates=[noise])
    assert abs(info_n["coefficients"][0]) < 0.1
    assert abs(climate.rmse(pred_n, truth, targets, w) - e_plain) < 0.1 * e_plain


def test_anomaly_kriging_leave_out_never_sees_its_own_cell():
    """Each known cell's estimate comes from the other folds: changing a cell's value leaves its own estimate
    unchanged but moves its month's estimates elsewhere; fold k's cells equal fill_anomaly_months from the
    rest; unknown cells get none."""
    from genlab.apply.gap_baselines import anomaly_kriging_leave_out, fill_anomaly_months
    from genlab.apply.residual_kriging import fold_ids

    grid = _grid()
    la, lo = np.meshgrid(np.deg2rad(grid.lat), np.deg2rad(grid.lon), indexing="ij")
    rng = np.random.default_rng(4)
    values = np.stack([20 * np.cos(la) ** 2 + np.sin((t + 2) * lo) for t in range(3)])
    known = rng.random(values.shape) < 0.4
    fold = fold_ids(values.shape, folds=3, seed=5)
    loo = anomaly_kriging_leave_out(values, known, grid, context_known=known, fold=fold)
    assert np.isfinite(loo[known]).all() and np.isnan(loo[~known]).all()
    sel = known & (fold == 1)
    direct, _ = fill_anomaly_months(values, known & ~sel, sel, grid, context_known=known)
    assert np.allclose(loo[sel], direct[sel])
    t = 1
    i, j = np.argwhere(known[t] & (fold[t] == 0))[0]
    bumped = values.copy()
    bumped[t, i, j] += 10.0
    loo2 = anomaly_kriging_leave_out(bumped, known, grid, context_known=known, fold=fold)
    assert loo2[t, i, j] == pytest.approx(loo[t, i, j])  # its own estimate did not see the change
    other = known[t] & (fold[t] != 0)
    assert np.abs(loo2[t][other] - loo[t][other]).max() > 0.01  # the other folds' estimates did


def test_a_covariate_fitted_on_its_leave_out_values_not_on_its_echo():
    """An interpolating covariate echoes z at the known cells: fitted there it earns weight 1 exactly and the
    prediction becomes the covariate; fitted on its leave-out values (covariates_loo) it earns its skill, here
    x = trend + 0.5 anomaly → weight 2 (z − f = 2 (x − f)), as in stacking."""
    grid = _grid()
    la, lo = np.meshgrid(np.deg2rad(grid.lat), np.deg2rad(grid.lon), indexing="ij")
    trend = 25 * np.cos(la) ** 2
    anomaly = 3 * np.sin(5 * lo) * np.cos(la)
    truth = (trend + anomaly)[None]
    rng = np.random.default_rng(6)
    known = rng.random(truth.shape) < 0.3
    targets = ~known & (rng.random(truth.shape) < 0.3)

    def net(k):
        return np.broadcast_to(trend, truth.shape).copy()

    half = (trend + 0.5 * anomaly)[None]
    echo = np.where(known, truth, half)  # the covariate as a field: its value at known cells is z itself
    _, info_echo = residual_kriging(net, truth, known, targets, grid, folds=5, covariates=[echo])
    assert info_echo["coefficients"][0] == pytest.approx(1.0, abs=1e-9)
    pred, info = residual_kriging(net, truth, known, targets, grid, folds=5, covariates=[echo],
                                  covariates_loo=[np.where(known, half, np.nan)])
    assert info["coefficients"][0] == pytest.approx(2.0, rel=1e-6)
    w = climate.area_weights(grid.lat, grid.shape)
    assert climate.rmse(pred, truth, targets, w) < 0.05 * climate.rmse(np.where(targets, half, np.nan), truth,
                                                                        targets, w)
    with pytest.raises(GenlabError, match="leave-out version"):
        residual_kriging(net, truth, known, targets, grid, folds=5, covariates=[echo], covariates_loo=[])
