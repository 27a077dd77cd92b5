"""Periodic Gaussian random fields with a power-law spectrum, and log-normal convergence-like maps.

Conventions (an N × N periodic map of unit side, numpy's unnormalised FFT ĝ = fft2(g)): the power
spectrum is P(k) = E|ĝ_k|² / N² per Fourier mode, k = |(kx, ky)| in units of the fundamental 2π/L (so
k = 1 … N/√2), and the field's variance is the mean of P over all modes, E[g²] = ⟨P⟩ (Parseval).

Gaussian random field: g = ifft2(fft2(w) · sqrt(P)) with w white N(0, 1) noise; then E|ĝ_k|²/N² = P(k)
exactly for every mode (the Hermitian symmetry of a real field comes with w). P(k) = A k^slope for k > 0,
P(0) = 0 (zero-mean maps), A set so that the variance is sigma².

Log-normal maps (shifted log-normal, the standard model of weak-lensing convergence, e.g. Hilbert, Hartlap &
Schneider 2011; CosmoGAN's maps are ray-traced convergence, whose one-point PDF it approximates):

    κ = λ (exp(g − σ_g²/2) − 1),   g Gaussian with variance σ_g²,

so E[κ] = 0, κ > −λ (λ = the shift, the convergence of an empty beam), and the correlation functions obey
ξ_κ(r) = λ² (exp(ξ_g(r)) − 1) exactly. A requested spectrum P_κ (power law as above, variance sigma²) is met
by generating g with ξ_g = ln(1 + ξ_κ/λ²), i.e. P_g = fft2(ξ_g); modes where that is negative (possible for
some spectra) are set to 0 and the fraction of clipped power is reported (0.24 % for the defaults:
slope −2, sigma 0.02, shift 0.03, 64²; 1.4 % at slope −3). Then Var κ = λ² (exp σ_g² − 1) ≈ sigma² and the
skewness is (e^{σ_g²} + 2) sqrt(e^{σ_g²} − 1) (2.30 for the defaults).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import GenlabError


def wavenumbers(size: int) -> np.ndarray:
    """|k| of every mode of an N × N fft2 grid, in units of the fundamental."""
    k = np.fft.fftfreq(size, 1.0 / size)
    return np.sqrt(k[:, None] ** 2 + k[None, :] ** 2)


def power_law(size: int, slope: float, sigma: float = 1.0) -> np.ndarray:
    """P(k) = A k^slope on the fft2 grid (P(0) = 0), with A such that the variance ⟨P⟩ = sigma²."""
    k = wavenumbers(size)
    p = np.zeros_like(k)
    p[k > 0] = k[k > 0] ** float(slope)
    return p * (sigma ** 2 / p.mean())


def gaussian_fields(power: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n real Gaussian fields (n, N, N) with spectrum `power` (an N × N fft2-grid array, P ≥ 0)."""
    size = power.shape[0]
    amp = np.sqrt(power[:, : size // 2 + 1])  # rfft2 half plane (P is symmetric under k -> −k)
    out = np.empty((n, size, size))
    for i in range(n):  # one map at a time: the draws of map i never depend on n
        w = rng.standard_normal((size, size))
        out[i] = np.fft.irfft2(np.fft.rfft2(w) * amp, s=(size, size))
    return out


def lognormal_power(power_kappa: np.ndarray, shift: float) -> tuple[np.ndarray, float]:
    """The spectrum of the Gaussian g that makes κ = λ(exp(g − σ_g²/2) − 1) have spectrum `power_kappa`, and the
    fraction of |P_g| clipped because it came out negative."""
    xi_k = np.fft.ifft2(power_kappa).real  # ξ_κ(r) = (1/N²) Σ_k P_k e^{ik·r}
    if xi_k.min() <= -shift ** 2:
        raise GenlabError(f"data.shift={shift} is too small for this spectrum (ξ_κ reaches {xi_k.min():.3g} ≤ −λ²); "
                          f"increase data.shift or lower data.sigma")
    p_g = np.fft.fft2(np.log1p(xi_k / shift ** 2)).real
    neg = p_g < 0
    clipped = float(-p_g[neg].sum() / np.abs(p_g).sum()) if neg.any() else 0.0
    return np.where(neg, 0.0, p_g), clipped


def lognormal_fields(power_kappa: np.ndarray, shift: float, n: int, rng: np.random.Generator
                     ) -> tuple[np.ndarray, dict]:
    """n shifted log-normal maps (n, N, N) with spectrum `power_kappa`, and facts: σ_g², the clipped power
    fraction, and the expected variance and skewness of κ."""
    p_g, clipped = lognormal_power(power_kappa, shift)
    var_g = float(p_g.mean())
    g = gaussian_fields(p_g, n, rng)
    kappa = shift * np.expm1(g - 0.5 * var_g)
    e = math.exp(var_g)
    facts = {"sigma_g": math.sqrt(var_g), "clipped_power": clipped,
             "expected_mean": 0.0, "expected_variance": shift ** 2 * (e - 1),
             "expected_skewness": (e + 2) * math.sqrt(e - 1), "minimum_possible": -shift}
    return kappa, facts


def radial_spectrum(fields: np.ndarray, nbins: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radially averaged power of (n, N, N) maps: (k bin centres, mean |ĝ|²/N² per bin, modes per bin), bins of
    width 1 in k from 0.5 (the k = 0 mode is left out)."""
    size = fields.shape[-1]
    k = wavenumbers(size)
    p = (np.abs(np.fft.fft2(fields)) ** 2).mean(axis=0) / size ** 2
    return binned(k, p, nbins or size // 2)


def binned(k: np.ndarray, values: np.ndarray, nbins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idx = np.rint(k).astype(int).ravel()
    ok = (idx >= 1) & (idx <= nbins)
    counts = np.bincount(idx[ok], minlength=nbins + 1)[1:]
    sums = np.bincount(idx[ok], weights=values.ravel()[ok], minlength=nbins + 1)[1:]
    return np.arange(1, nbins + 1, dtype=float), sums / np.maximum(counts, 1), counts
