"""Network + residual kriging: regression kriging (Hengl, Heuvelink & Rossiter 2007, "About regression-kriging:
from equations to case studies") with the gap-filling network as its trend model.

    ẑ(s₀) = f(s₀) + Σᵢ λᵢ rᵢ,        rᵢ = z(sᵢ) − f₋ₖ₍ᵢ₎(sᵢ)

f = the network's raw output from every known cell; f₋ₖ = its output when fold k of the known cells is hidden
as well (the known cells are split into `folds` random folds per field, so each residual rᵢ is an
out-of-sample error at an observed cell — the network's output *at* a known cell only echoes its input);
λ = ordinary-kriging weights of the residuals (apply/gap_baselines.py: exponential variogram fitted per
field, 32 nearest known cells). The network carries the large-scale structure the variogram cannot, and the
kriged residuals put back what the network misses near the observations. Cost: folds + 1 network passes and
one kriging per field.

A caveat that belongs with the numbers: a network trained self-supervised on the same fields (coads-holdout)
has seen the known cells as training targets, so its leave-out residuals there can be smaller than its
errors at cells it never saw, and the kriged correction then undershoots; `details["residual_rms"]` is
reported beside the hidden-cell error to show it.

Covariates (regression kriging with more than one predictor): given fields x_j (NaN where undefined, e.g. the
mean of the neighbouring months, gap_baselines.neighbour_mean), the trend becomes

    t(s) = f(s) + Σⱼ aⱼ [xⱼ(s) − f(s)]       (a term is 0 where xⱼ is NaN)

with the aⱼ fitted by least squares on the leave-out outputs at the known cells (z − f₋ₖ regressed on
xⱼ − f₋ₖ, pooled over all fields; no intercept: ordinary kriging estimates the local mean of the residuals),
and the residuals z − t₋ₖ kriged as above. With a = 0 this is the plain method. The network's output at a
known cell is never a regressor (only its leave-out output), so the fit sees out-of-sample errors only.

A covariate that is itself an interpolation of the month's observations (e.g. anomaly-kriging,
gap_baselines.anomaly_kriging_leave_out) would only echo z at a known cell; such an xⱼ comes with its own
leave-out values x₋ₖ (`covariates_loo`, computed with the same folds: `fold_ids`), which replace xⱼ in the
fit and in the leave-out trend t₋ₖ — the stacked-regression rule of fitting the blend on cross-validated
predictions only (Wolpert 1992; Breiman 1996).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from ..errors import GenlabError
from .gap_baselines import fill_months
from .grids import Grid

FOLDS = 10


def fold_ids(shape: tuple, *, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """The seeded fold (0 … folds − 1) of every cell: the one split shared by the network's leave-out passes
    and any covariate's own leave-out values."""
    if folds < 2:
        raise GenlabError(f"residual kriging needs at least 2 folds, got {folds}")
    return np.random.default_rng([seed, 7]).integers(0, folds, size=shape)


def leave_out_outputs(net: Callable[[np.ndarray], np.ndarray], values: np.ndarray, known: np.ndarray, *,
                      folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """(T, H, W) leave-out outputs f₋ₖ at the known cells (NaN elsewhere): `net(known_mask)` is the network's raw
    output for the fields `values` with those cells known; fold k of the known cells is hidden in pass k."""
    fold = fold_ids(values.shape, folds=folds, seed=seed)
    loo = np.full(values.shape, np.nan)
    for k in range(folds):
        sel = known & (fold == k)
        if sel.any():
            out = net(known & ~sel)
            loo[sel] = out[sel]
    return loo


def leave_out_residuals(net: Callable[[np.ndarray], np.ndarray], values: np.ndarray, known: np.ndarray, *,
                        folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """(T, H, W) residuals z − f₋ₖ at the known cells (NaN elsewhere); see leave_out_outputs."""
    return np.where(known, values, np.nan) - leave_out_outputs(net, values, known, folds=folds, seed=seed)


def _departures(f: np.ndarray, covariates: Sequence[np.ndarray]) -> np.ndarray:
    """(J, T, H, W) xⱼ − f, 0 where xⱼ is undefined."""
    return np.stack([np.where(np.isfinite(x), x - f, 0.0) for x in covariates]) if covariates else \
        np.zeros((0,) + f.shape)


def fit_covariates(values: np.ndarray, loo: np.ndarray, covariates: Sequence[np.ndarray]) -> np.ndarray:
    """Least-squares aⱼ of z − f₋ₖ on xⱼ − f₋ₖ over the cells with a leave-out output (module docstring)."""
    if not covariates:
        return np.zeros(0)
    cells = np.isfinite(loo)
    d = _departures(loo, covariates)[:, cells].T  # (n, J)
    y = (values - loo)[cells]
    if len(y) <= d.shape[1]:
        raise GenlabError(f"residual kriging with {d.shape[1]} covariate(s) needs more than {d.shape[1]} known "
                          f"cells, got {len(y)}")
    return np.linalg.lstsq(d, y, rcond=None)[0]


def residual_kriging(net: Callable[[np.ndarray], np.ndarray], values: np.ndarray, known: np.ndarray,
                     targets: np.ndarray, grid: Grid, *, folds: int = FOLDS, seed: int = 0,
                     base: np.ndarray | None = None, loo: np.ndarray | None = None,
                     covariates: Sequence[np.ndarray] = (),
                     covariates_loo: Optional[Sequence[np.ndarray]] = None) -> tuple[np.ndarray, dict]:
    """(T, H, W) predictions trend + kriged residuals at `targets` (NaN elsewhere) and details (module
    docstring). `base`: the network's output from all known cells, `loo`: its leave-out outputs
    (leave_out_outputs, same folds and seed), when the caller has them already; `covariates`: fields xⱼ;
    `covariates_loo`: their leave-out values at the known cells where they differ from xⱼ (same folds)."""
    base = net(known) if base is None else base
    loo = leave_out_outputs(net, values, known, folds=folds, seed=seed) if loo is None else loo
    covariates_loo = covariates if covariates_loo is None else covariates_loo
    if len(covariates_loo) != len(covariates):
        raise GenlabError(f"{len(covariates)} covariate(s) but {len(covariates_loo)} leave-out version(s)")
    coef = fit_covariates(values, loo, covariates_loo)
    trend_loo = loo + np.tensordot(coef, _departures(loo, covariates_loo), axes=1)
    trend = base + np.tensordot(coef, _departures(base, covariates), axes=1)
    resid = np.where(np.isfinite(loo), values - trend_loo, np.nan)
    kr, per_month = fill_months("kriging", resid, known & np.isfinite(resid), targets, grid, seed=seed)
    pred = np.where(targets, trend + kr, np.nan)
    r = resid[np.isfinite(resid)]
    return pred, {"folds": folds, "residual_rms": float(np.sqrt(np.mean(r ** 2))) if r.size else float("nan"),
                  "residual_mean": float(r.mean()) if r.size else float("nan"),
                  "coefficients": [float(c) for c in coef],
                  "variogram_per_month": [d.get("variogram") for d in per_month]}
