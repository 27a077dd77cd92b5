"""Scores of gap filling on real observations, in the field's physical units, area-weighted.

Conventions (every one recorded in the gap-fill protocol):
- Area weights: w(φ) = cos φ for a cell centred at latitude φ (the cell's area on a regular lat/lon grid,
  up to a constant); `area_weights(lat, w)` gives the (H, W) array. Without latitudes all weights are 1.
- At the scored cells S (the hidden observations), with error e = prediction − truth:

      RMSE = sqrt(Σ_S w e² / Σ_S w),   MAE = Σ_S w |e| / Σ_S w,   bias = Σ_S w e / Σ_S w,

  in the units of the data. A difference in °C is the same number in K (the scales differ only by an offset),
  so COADS's "Deg C" errors are errors in kelvin.
- Area-weighted mean series: for each month t, m_t = Σ_{S_t} w x / Σ_{S_t} w of the prediction and of the
  truth over that month's scored cells; `correlation` is Pearson's r of the two series over months.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import GenlabError


def area_weights(lat: Optional[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """(H, W) cos(latitude) weights (clipped at 0 for rounding at the poles); ones without latitudes."""
    h, w = shape
    if lat is None:
        return np.ones((h, w))
    lat = np.asarray(lat, np.float64)
    if len(lat) != h:
        raise GenlabError(f"{len(lat)} latitudes for a field of {h} rows")
    return np.repeat(np.clip(np.cos(np.deg2rad(lat)), 0.0, None)[:, None], w, 1)


def _where(pred: np.ndarray, truth: np.ndarray, where: np.ndarray, weights: np.ndarray):
    where = np.asarray(where, bool)
    if pred.shape != truth.shape or where.shape != truth.shape:
        raise GenlabError(f"prediction {pred.shape}, truth {truth.shape} and cells {where.shape} differ in shape")
    w = np.broadcast_to(weights, truth.shape)[where]
    if w.sum() <= 0:
        raise GenlabError("no scored cell with a positive area weight")
    e = pred[where].astype(np.float64) - truth[where].astype(np.float64)
    if not np.isfinite(e).all():
        raise GenlabError(f"{int((~np.isfinite(e)).sum())} predictions at scored cells are not finite")
    return e, w


def rmse(pred, truth, where, weights) -> float:
    e, w = _where(pred, truth, where, weights)
    return float(np.sqrt((w * e * e).sum() / w.sum()))


def mae(pred, truth, where, weights) -> float:
    e, w = _where(pred, truth, where, weights)
    return float((w * np.abs(e)).sum() / w.sum())


def bias(pred, truth, where, weights) -> float:
    e, w = _where(pred, truth, where, weights)
    return float((w * e).sum() / w.sum())


def mean_series(x: np.ndarray, where: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(T,) area-weighted means of x (T, H, W) over each month's cells `where` (NaN for a month without any)."""
    where = np.asarray(where, bool)
    w = np.broadcast_to(weights, x.shape) * where
    tot = w.sum((1, 2))
    num = (w * np.where(where, x, 0.0)).sum((1, 2))
    return np.where(tot > 0, num / np.where(tot > 0, tot, 1.0), np.nan)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's correlation of two series (NaN entries dropped pairwise); NaN with fewer than 3 pairs or a
    constant series."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    if not (a.std() > 0 and b.std() > 0):
        return float("nan")
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def scores(pred: np.ndarray, truth: np.ndarray, where: np.ndarray, weights: np.ndarray) -> dict:
    """rmse, mae, bias, the two monthly mean series and their correlation, and the per-month RMSE."""
    pm, tm = mean_series(pred, where, weights), mean_series(truth, where, weights)
    per_month = []
    for t in range(len(truth)):
        per_month.append(rmse(pred[t], truth[t], where[t], weights) if np.asarray(where[t]).any() else None)
    return {"rmse": rmse(pred, truth, where, weights), "mae": mae(pred, truth, where, weights),
            "bias": bias(pred, truth, where, weights), "corr_mean_series": pearson(pm, tm),
            "mean_series": [None if not np.isfinite(v) else float(v) for v in pm],
            "true_mean_series": [None if not np.isfinite(v) else float(v) for v in tm],
            "rmse_per_month": per_month, "n_cells": int(np.asarray(where, bool).sum())}
