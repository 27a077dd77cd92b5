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
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import GenlabError
from .gap_baselines import fill_months
from .grids import Grid

FOLDS = 10


def leave_out_residuals(net: Callable[[np.ndarray], np.ndarray], values: np.ndarray, known: np.ndarray, *,
                        folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """(T, H, W) residuals z − f₋ₖ at the known cells (NaN elsewhere): `net(known_mask)` is the network's raw
    output for the fields `values` with those cells known; fold k of the known cells is hidden in pass k."""
    if folds < 2:
        raise GenlabError(f"residual kriging needs at least 2 folds, got {folds}")
    fold = np.random.default_rng([seed, 7]).integers(0, folds, size=values.shape)
    resid = np.full(values.shape, np.nan)
    for k in range(folds):
        sel = known & (fold == k)
        if sel.any():
            out = net(known & ~sel)
            resid[sel] = values[sel] - out[sel]
    return resid


def residual_kriging(net: Callable[[np.ndarray], np.ndarray], values: np.ndarray, known: np.ndarray,
                     targets: np.ndarray, grid: Grid, *, folds: int = FOLDS, seed: int = 0,
                     base: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """(T, H, W) predictions f + kriged residuals at `targets` (NaN elsewhere) and details (module docstring).
    `base`: the network's output from all known cells when the caller has it already."""
    base = net(known) if base is None else base
    resid = leave_out_residuals(net, values, known, folds=folds, seed=seed)
    kr, per_month = fill_months("kriging", resid, known & np.isfinite(resid), targets, grid, seed=seed)
    pred = np.where(targets, base + kr, np.nan)
    r = resid[np.isfinite(resid)]
    return pred, {"folds": folds, "residual_rms": float(np.sqrt(np.mean(r ** 2))) if r.size else float("nan"),
                  "residual_mean": float(r.mean()) if r.size else float("nan"),
                  "variogram_per_month": [d.get("variogram") for d in per_month]}
