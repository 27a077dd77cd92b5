"""Distances between the one-point (pixel-value) distributions of two sets of fields, one channel at a time.

On the pooled pixel values of a channel (every pixel of every map; at most `max_pixels` of each set, a
seeded random subset beyond that):

- Kolmogorov–Smirnov: D = sup_v |F_fake(v) − F_real(v)| of the empirical CDFs (exact, = scipy.stats.ks_2samp's
  statistic), and its asymptotic two-sample p-value P(D_en ≥ D) with D_en the one-sample KS statistic of
  en = round(n m / (n + m)) points (scipy.stats.kstwo; = ks_2samp(method="asymp")). Pixels of one map are
  correlated, so the p-value treats far more values as independent than there are: read it as a flag
  (tiny = the distributions differ), not a calibrated test.
- Wasserstein-1: W1 = ∫ |F_fake(v) − F_real(v)| dv, exact on the merged sorted values (=
  scipy.stats.wasserstein_distance; the mean |Δ| of the sorted values for equal counts), in the field's
  units; also W1 / σ_real.
- χ² (CosmoGAN-style, the symmetric χ² distance): 50 bins of equal width between the real pixels' 0.1 %
  and 99.9 % quantiles, values outside counted in the two end bins; h_r, h_f = fractions of each set's
  pixels per bin (each sums to 1); χ² = Σ (h_f − h_r)² / (h_r + h_f) over bins with h_r + h_f > 0
  (0 for equal histograms, 2 for disjoint ones).
"""
from __future__ import annotations

import numpy as np

BINS = 50
QUANTILES = (0.001, 0.999)
MAX_PIXELS = 1 << 20


def pooled(x: np.ndarray, *, max_pixels: int = MAX_PIXELS, seed: int = 0) -> np.ndarray:
    """The finite values of x as one 1-D float64 array, a seeded random subset if there are more than
    max_pixels."""
    v = np.asarray(x, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size > max_pixels:
        v = np.random.default_rng(seed).choice(v, max_pixels, replace=False)
    return v


def edges_of(real: np.ndarray, bins: int = BINS, quantiles: tuple[float, float] = QUANTILES) -> np.ndarray:
    lo, hi = np.quantile(real, quantiles)
    if not hi > lo:  # a (nearly) constant real channel: one unit-wide bin around it
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def fractions(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Fraction of the values per bin; values outside [edges[0], edges[-1]] go to the end bins."""
    i = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(edges) - 2)
    return np.bincount(i, minlength=len(edges) - 1) / max(len(v), 1)


def chi2(h_real: np.ndarray, h_fake: np.ndarray) -> float:
    """Σ (h_f − h_r)² / (h_r + h_f) over bins with h_r + h_f > 0."""
    s = h_real + h_fake
    ok = s > 0
    return float(((h_fake[ok] - h_real[ok]) ** 2 / s[ok]).sum())


def ks_w1(real: np.ndarray, fake: np.ndarray) -> tuple[float, float, float]:
    """(KS statistic D, its asymptotic p-value, Wasserstein-1) of two 1-D samples, from one sort of each."""
    from scipy.stats import kstwo

    r, f = np.sort(real), np.sort(fake)
    every = np.sort(np.concatenate([r, f]))  # (n + m,)
    cdf_r = np.searchsorted(r, every, side="right") / len(r)  # F_real at every value of either sample
    cdf_f = np.searchsorted(f, every, side="right") / len(f)
    gap = np.abs(cdf_r - cdf_f)
    d = float(gap.max())
    w1 = float((gap[:-1] * np.diff(every)).sum())  # the CDFs are constant between consecutive values
    en = len(r) * len(f) / (len(r) + len(f))
    return d, float(kstwo.sf(d, np.round(en))), w1


def distances(real: np.ndarray, fake: np.ndarray, *, bins: int = BINS) -> tuple[dict, dict]:
    """KS (+ p-value), W1 (and W1/σ_real) and χ² between two 1-D samples of pixel values; returns
    (summary, curves) where curves has the bin edges and both histograms (as densities) for plotting."""
    d, p, w1 = ks_w1(real, fake)
    sd = float(real.std())
    edges = edges_of(real, bins)
    h_r, h_f = fractions(real, edges), fractions(fake, edges)
    summary = {"ks": d, "ks_p": p, "w1": w1,
               "w1_over_sigma": w1 / sd if sd > 0 else float("nan"), "chi2": chi2(h_r, h_f),
               "mean_real": float(real.mean()), "mean_fake": float(fake.mean()),
               "std_real": sd, "std_fake": float(fake.std())}
    width = np.diff(edges)
    curves = {"edges": edges, "density_real": h_r / width, "density_fake": h_f / width}
    return summary, curves
