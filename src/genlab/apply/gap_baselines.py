"""Classical gap filling of a gridded field on the sphere: the baselines of the gap-fill evaluation.

Each method predicts the values at `targets` of one (H, W) field from its `known` cells on a lat/lon Grid;
`fill_months` runs one over every month of (T, H, W) arrays with the same inputs the network gets.

nearest   the known cell nearest on the sphere (great-circle: a KD-tree on unit vectors).
linear    scipy.interpolate.griddata(method="linear"): barycentric interpolation on a Delaunay triangulation
          of the known cells in the (longitude, latitude) plane; on a periodic grid the known cells within
          60° of the seam are copied 360° across it, so triangles span the date line. Targets outside the
          triangulation (beyond the outermost known cells) take the nearest known value (counted).
anomaly-kriging (fill_anomaly_months) kriging of the month's anomaly from its two neighbouring months' mean:
          the space-time baseline beside a network that reads the neighbouring months.
kriging   ordinary kriging with pykrige's variogram: per month an `exponential` model (pykrige's
          least-squares fit on 20 lag bins, coordinates_type="geographic", great-circle lags in degrees) is
          fitted to a seeded subsample of 1,500 known cells; each target is then predicted from its
          32 nearest known cells (a moving window) by solving the ordinary-kriging system

              [ −γ(d_ij)  1 ] [ λ ]   [ −γ(d_i0) ]
              [   1ᵀ      0 ] [ μ ] = [    1     ],      ẑ_0 = Σ_i λ_i z_i,  γ(0) = 0 on the diagonal,

          the same system pykrige's `execute(n_closest_points=32)` solves (tested to 1e-8), batched over
          targets — pykrige's own moving window builds the N × N matrix of all known cells first, which is
          what made it take minutes per month here.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import numpy as np

from ..errors import GenlabError
from .grids import Grid

N_CLOSEST = 32
N_FIT = 1500
VARIOGRAM = "exponential"
SEAM_BAND = 60.0  # degrees of known cells copied across the seam for the planar triangulation


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(n, 3) points on the unit sphere for latitudes/longitudes in degrees."""
    la, lo = np.deg2rad(lat), np.deg2rad(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], -1)


def _cells(mask: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.nonzero(mask)
    return grid.lat[rows], grid.lon[cols]


def nearest(field: np.ndarray, known: np.ndarray, targets: np.ndarray, grid: Grid, **_) -> tuple[np.ndarray, dict]:
    from scipy.spatial import cKDTree

    la, lo = _cells(known, grid)
    ta, to = _cells(targets, grid)
    _, i = cKDTree(unit_vectors(la, lo)).query(unit_vectors(ta, to))
    return field[known][i], {}


def linear(field: np.ndarray, known: np.ndarray, targets: np.ndarray, grid: Grid, **_) -> tuple[np.ndarray, dict]:
    from scipy.interpolate import griddata

    la, lo = _cells(known, grid)
    z = field[known]
    ta, to = _cells(targets, grid)
    pts = np.stack([lo, la], 1)
    if grid.periodic:
        lo0, lo1 = float(grid.lon.min()), float(grid.lon.max())
        east, west = lo > lo1 - SEAM_BAND, lo < lo0 + SEAM_BAND
        pts = np.concatenate([pts, pts[east] - [360.0, 0.0], pts[west] + [360.0, 0.0]])
        z = np.concatenate([z, z[east], z[west]])
    pred = griddata(pts, z, np.stack([to, ta], 1), method="linear")
    outside = ~np.isfinite(pred)
    if outside.any():
        pred[outside] = nearest(field, known, _subset(targets, outside), grid)[0]
    return pred, {"outside_hull": int(outside.sum())}


def _subset(targets: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The target mask restricted to the targets (in raster order) where keep is True."""
    out = np.zeros_like(targets)
    out.flat[np.flatnonzero(targets)[keep]] = True
    return out


def fit_variogram(lon: np.ndarray, lat: np.ndarray, z: np.ndarray, *, seed: int = 0, n_fit: int = N_FIT,
                  model: str = VARIOGRAM) -> tuple[Callable, list[float]]:
    """pykrige's fitted variogram function and parameters ([partial sill, range in degrees, nugget]) on a
    seeded subsample of n_fit points."""
    try:
        from pykrige.ok import OrdinaryKriging
    except ImportError:
        raise GenlabError("the kriging baseline needs pykrige; install it: pip install pykrige") from None
    rng = np.random.default_rng(seed)
    sub = rng.choice(len(z), size=min(n_fit, len(z)), replace=False)
    ok = OrdinaryKriging(np.mod(lon[sub], 360.0), lat[sub], z[sub], variogram_model=model,
                         coordinates_type="geographic", nlags=20)
    return ok.variogram_function, [float(p) for p in ok.variogram_model_parameters]


def krige_window(lon, lat, z, qlon, qlat, vfunc: Callable, params, *, n_closest: int = N_CLOSEST,
                 eps: float = 1e-10, chunk: int = 2048) -> np.ndarray:
    """Ordinary kriging of (qlon, qlat) from its n_closest neighbours among (lon, lat, z) (module docstring)."""
    from pykrige.core import great_circle_distance
    from scipy.spatial import cKDTree

    n = min(n_closest, len(z))
    tree = cKDTree(unit_vectors(lat, lon))
    out = np.empty(len(qlon))
    for s in range(0, len(qlon), chunk):
        qo, qa = qlon[s:s + chunk], qlat[s:s + chunk]
        _, idx = tree.query(unit_vectors(qa, qo), k=n)
        idx = idx.reshape(len(qo), n)  # (m, n)
        d0 = great_circle_distance(qo[:, None], qa[:, None], lon[idx], lat[idx])  # (m, n)
        dij = great_circle_distance(lon[idx][:, :, None], lat[idx][:, :, None], lon[idx][:, None, :],
                                    lat[idx][:, None, :])  # (m, n, n)
        a = np.zeros((len(qo), n + 1, n + 1))
        a[:, :n, :n] = -vfunc(params, dij)
        a[:, np.arange(n), np.arange(n)] = 0.0
        a[:, n, :n] = a[:, :n, n] = 1.0
        b = np.zeros((len(qo), n + 1))
        b[:, :n] = np.where(np.abs(d0) <= eps, 0.0, -vfunc(params, d0))
        b[:, n] = 1.0
        lam = np.linalg.solve(a, b[..., None])[..., 0]  # (m, n + 1)
        out[s:s + chunk] = (lam[:, :n] * z[idx]).sum(1)
    return out


def kriging(field: np.ndarray, known: np.ndarray, targets: np.ndarray, grid: Grid, *, seed: int = 0,
            **_) -> tuple[np.ndarray, dict]:
    la, lo = _cells(known, grid)
    z = field[known].astype(np.float64)
    ta, to = _cells(targets, grid)
    if np.ptp(z) == 0:  # a constant field has no variogram to fit; every kriging estimate is the constant
        return np.full(len(ta), z[0]), {"variogram": None}
    vfunc, params = fit_variogram(lo, la, z, seed=seed)
    pred = krige_window(np.mod(lo, 360.0), la, z, np.mod(to, 360.0), ta, vfunc, params)
    return pred, {"variogram": params}


BASELINES: dict[str, Callable] = {"kriging": kriging, "linear": linear, "nearest": nearest}


def fill_months(method: str, values: np.ndarray, known: np.ndarray, targets: np.ndarray, grid: Grid, *,
                seed: int = 0) -> tuple[np.ndarray, list[dict]]:
    """(T, H, W) predictions of `method` at `targets` (NaN elsewhere) from the `known` cells of each month,
    and per-month details (fitted variogram, targets outside the triangulation)."""
    fn = BASELINES[method]
    pred = np.full(values.shape, np.nan)
    details = []
    with _one_blas_thread():
        for t in range(len(values)):
            if not targets[t].any():
                details.append({})
                continue
            if known[t].sum() < 3:
                raise GenlabError(f"month {t + 1} has {int(known[t].sum())} known cells; {method} needs at least 3")
            p, info = fn(values[t], known[t], targets[t], grid, seed=seed + t)
            pred[t][targets[t]] = p
            details.append(info)
    return pred, details


def neighbour_mean(values: np.ndarray, known: np.ndarray, *, cyclic: bool) -> np.ndarray:
    """(T, H, W) mean of the observed (`known`) values of steps t − 1 and t + 1 of each step t, NaN where neither
    observed the cell (steps wrap around when `cyclic`, as a 12-month climatology's)."""
    from ..data.gaps import neighbour_steps

    nv, nk = neighbour_steps(np.where(known, values, 0.0), known, 1, cyclic=cyclic)
    count, total = nk.sum(1).astype(float), (nv * nk).sum(1)  # over steps t − 1, t + 1
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def fill_anomaly_months(values: np.ndarray, known: np.ndarray, targets: np.ndarray, grid: Grid, *,
                        context_known: np.ndarray, seed: int = 0) -> tuple[np.ndarray, list[dict]]:
    """`anomaly-kriging`, a space-time baseline with the network's information: per month t and cell, the
    neighbours' mean n_t = mean of the observed values of months t − 1 and t + 1 (cyclic; `context_known`
    marks them), then

        ẑ_t = n_t + kriging of (z_t − n_t) from the known cells where n_t exists,

    and plain kriging of z_t where neither neighbour observed the cell."""
    nb = neighbour_mean(values, context_known, cyclic=True)
    has = np.isfinite(nb)
    res, res_details = fill_months("kriging", values - np.where(has, nb, 0.0), known & has, targets & has, grid,
                                   seed=seed)
    plain, _ = fill_months("kriging", values, known, targets & ~has, grid, seed=seed)
    pred = np.where(targets & has, nb + res, plain)
    for d, t in zip(res_details, range(len(values))):
        d["without_neighbours"] = int((targets[t] & ~has[t]).sum())
    return np.where(targets, pred, np.nan), res_details


def anomaly_kriging_leave_out(values: np.ndarray, known: np.ndarray, grid: Grid, *, context_known: np.ndarray,
                              fold: np.ndarray, seed: int = 0) -> np.ndarray:
    """(T, H, W) anomaly-kriging's leave-out estimates at the known cells (NaN elsewhere): the cells of fold k
    (`fold`, e.g. apply/residual_kriging.fold_ids) predicted by `fill_anomaly_months` from the known cells of
    the other folds, so no estimate has seen its own cell's value. The neighbouring months (`context_known`)
    stay whole: they are other months, as in the baseline. Cost: one kriging of every known cell."""
    out = np.full(values.shape, np.nan)
    for k in np.unique(fold[known]):
        sel = known & (fold == k)
        pred, _ = fill_anomaly_months(values, known & ~sel, sel, grid, context_known=context_known, seed=seed)
        out[sel] = pred[sel]
    return out


def _one_blas_thread():
    """BLAS/LAPACK on one thread: scipy's triangulation-based interpolation makes a tiny LAPACK call per
    triangle, and with 2 OpenBLAS threads on the loaded 2-core machine linear interpolation of one month took
    4-5x longer (measured 0.7-0.9 s vs 2.8-4.1 s)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)
