"""Numbers of a group of trial scores: summary statistics and Lucic et al.'s budget curve.

Expected best of k trials (Lucic et al. 2018, "Are GANs created equal?", their budget figure: the best
FID among k trials drawn at random from the n run). Sort the scores best first, v_(1), ..., v_(n)
(ascending for a score to minimise). The best of a random k-subset (without replacement) is v_(i) exactly
when the subset holds trial i and k − 1 of the n − i worse ones, so

    P(best_k = v_(i)) = C(n − i, k − 1) / C(n, k),     E[best_k] = Σ_{i=1}^{n−k+1} v_(i) C(n − i, k − 1) / C(n, k).

This is the exact mean of the Monte-Carlo estimate (many random subsets of size k), without its noise;
E[best_1] is the mean score and E[best_n] the best one. The band is the same curve over B bootstrap
resamples of the n scores (with replacement, seeded), its 5th and 95th percentiles at each k.
"""
from __future__ import annotations

import math

import numpy as np


def summary(values: list[float], minimize: bool) -> dict:
    """n, mean, sample standard deviation (ddof = 1; None for one value), best, median, worst."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return {"n": 0, "mean": None, "std": None, "best": None, "median": None, "worst": None}
    best, worst = (v.min(), v.max()) if minimize else (v.max(), v.min())
    return {"n": int(v.size), "mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else None,
            "best": float(best), "median": float(np.median(v)), "worst": float(worst)}


def _weights(n: int) -> np.ndarray:
    """W[k − 1, i − 1] = C(n − i, k − 1) / C(n, k) (0 where i > n − k + 1), through log-gamma so that
    large n does not overflow."""
    def log_comb(a: int, b: int) -> float:
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)

    w = np.zeros((n, n))
    for k in range(1, n + 1):
        for i in range(1, n - k + 2):
            w[k - 1, i - 1] = math.exp(log_comb(n - i, k - 1) - log_comb(n, k))
    return w


def _ordered(v: np.ndarray, minimize: bool) -> np.ndarray:
    """Scores best first along the last axis."""
    v = np.sort(v, axis=-1)
    return v if minimize else v[..., ::-1]


def expected_best(values: list[float], minimize: bool) -> np.ndarray:
    """E[best of k random trials] for k = 1..n (index k − 1), by the formula above."""
    v = np.asarray(values, dtype=np.float64)
    return _weights(v.size) @ _ordered(v, minimize)


def bootstrap_band(values: list[float], minimize: bool, *, b: int = 1000, seed: int = 0,
                   q: tuple[float, float] = (5.0, 95.0)) -> tuple[np.ndarray, np.ndarray]:
    """Percentiles q of expected_best over b bootstrap resamples of the scores (k = 1..n)."""
    v = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    resampled = _ordered(v[rng.integers(0, v.size, (b, v.size))], minimize)  # (b, n), best first
    curves = resampled @ _weights(v.size).T  # (b, n): one curve per resample
    return np.percentile(curves, q[0], axis=0), np.percentile(curves, q[1], axis=0)
