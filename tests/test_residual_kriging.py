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
