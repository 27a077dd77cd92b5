"""Power spectra of (N, C, H, W) fields in physical units, and the relative error of one set's spectrum
against another's.

Convention (the one of genlab/sim/random_fields.py, so a `grf`/`lognormal` data set's requested spectrum in
meta["simulation"]["spectrum"] is what this estimator recovers): numpy's unnormalised FFT, power per
Fourier mode P(k) = E|x̂_k|² / M with M the number of points transformed, so the mean of P over all modes
is the mean square of the field (Parseval); k in units of the fundamental 2π/L; radial bins of width 1
centred on k = 1, 2, …, N/2 (mode k falls in bin round(|k|)); the k = 0 mode (the mean) is left out.
Expectations are means over examples (and over rows for the 1-D spectrum). Which transform depends on the
periodic axes of the field (FieldSpec.periodic, axes of (C, H, W)):

- both spatial axes periodic ("fft2"): the 2-D FFT of each map, M = H·W,
  |k| = N·√((m/W)² + (n/H)²) for mode (n, m), N = max(H, W) (so L is the longer side; square maps: √(m² + n²)).
- one axis periodic ("fft1", e.g. x of Rayleigh–Bénard convection, whose z between two walls is not):
  the 1-D FFT of every line along the periodic axis, M = its length N, averaged over the lines of the
  other axis and over examples; k = |m|. No window: along a periodic axis none is needed, and a window
  across the walls would mix the boundary layers into every wavenumber.
- no periodic axis ("fft2-hann", e.g. images): each map minus its mean, times a separable 2-D Hann window
  w, divided by √⟨w²⟩ (so the windowed map keeps the variance of a stationary field), then as "fft2".

Relative error per band: e(k) = |P_fake(k) / P_real(k) − 1| for bins whose real power is above 1e-10 of its
maximum (others — e.g. the Nyquist bin of band-limited simulator snapshots — have none); the summary is the
maximum (and mean) over bins 1 ≤ k ≤ N/4 ("max relative error for k ≤ N/4", N the transform length: the
longer side for fft2, the periodic axis's length for fft1), plus the maximum over every bin.
"""
from __future__ import annotations

import numpy as np

CHUNK = 256  # examples transformed at once (bounds the memory of the complex arrays)


def method_for(periodic: tuple[int, ...]) -> str:
    """'fft2', 'fft1' or 'fft2-hann' for a (C, H, W) field with these periodic axes."""
    p = {a for a in periodic if a in (1, 2)}
    return "fft2" if p == {1, 2} else "fft1" if p else "fft2-hann"


def transform_length(shape: tuple[int, ...], periodic: tuple[int, ...]) -> int:
    """N of the convention: max(H, W) for 2-D spectra, the periodic axis's length for 1-D ones."""
    h, w = shape[-2:]
    if method_for(periodic) == "fft1":
        return w if 2 in periodic else h
    return max(h, w)


def _k2(h: int, w: int) -> np.ndarray:
    n = max(h, w)
    ky = np.fft.fftfreq(h) * n  # m / H in units of 2π/L, L = the longer side
    kx = np.fft.fftfreq(w) * n
    return np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)  # (H, W)


def _hann(h: int, w: int) -> np.ndarray:
    win = np.outer(np.hanning(h + 2)[1:-1], np.hanning(w + 2)[1:-1])  # (H, W), nowhere exactly zero
    return win / np.sqrt((win ** 2).mean())


def _mode_power(x: np.ndarray, method: str, periodic: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean power per mode (C, modes...) over examples (and lines) and |k| of each mode."""
    n, c, h, w = x.shape
    if method == "fft1":
        axis = -1 if 2 in periodic else -2
        length = x.shape[axis]
        total = np.zeros((c, length))
        for i in range(0, n, CHUNK):
            f = np.fft.fft(x[i:i + CHUNK], axis=axis)
            p = np.abs(f) ** 2
            total += p.sum(axis=(0, 3 if axis == -2 else 2)).reshape(c, length)  # (C, N) summed over maps, lines
        lines = n * (h if axis == -1 else w)
        return total / (lines * length), np.abs(np.fft.fftfreq(length) * length)
    win = _hann(h, w) if method == "fft2-hann" else None
    total = np.zeros((c, h, w))
    for i in range(0, n, CHUNK):
        part = x[i:i + CHUNK]
        if win is not None:
            part = (part - part.mean(axis=(2, 3), keepdims=True)) * win
        total += (np.abs(np.fft.fft2(part)) ** 2).sum(axis=0)  # (C, H, W)
    return total / (n * h * w), _k2(h, w)


def power_spectrum(x, periodic: tuple[int, ...] = (1, 2)) -> dict:
    """Radially binned power spectrum of every channel of x (N, C, H, W), physical units.

    Returns {"k": (B,) bin centres 1 … N/2, "power": (C, B) mean power per mode in each bin, "modes": (B,)
    modes per bin (per line for fft1), "method": "fft2" | "fft1" | "fft2-hann", "n": N}. See the module
    docstring for the convention."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(f"power_spectrum needs (N, C, H, W) fields, got shape {x.shape}")
    method = method_for(periodic)
    p, k = _mode_power(x, method, periodic)
    n = transform_length(x.shape, periodic)
    nbins = n // 2
    idx = np.rint(k).astype(int).ravel()
    ok = (idx >= 1) & (idx <= nbins)
    counts = np.bincount(idx[ok], minlength=nbins + 1)[1:]
    flat = p.reshape(p.shape[0], -1)  # (C, modes)
    sums = np.stack([np.bincount(idx[ok], weights=row[ok], minlength=nbins + 1)[1:] for row in flat])  # (C, B)
    power = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)  # (C, B); a bin with no mode is NaN
    return {"k": np.arange(1, nbins + 1, dtype=float), "power": power, "modes": counts, "method": method, "n": n}


EMPTY = 1e-10  # bins with real power below this fraction of the largest are numerically empty


def relative_error(p_real: np.ndarray, p_fake: np.ndarray) -> np.ndarray:
    """|P_fake / P_real − 1| per bin; NaN where P_real is NaN or below EMPTY × its maximum (a bin with no
    real power, e.g. the Nyquist bin of band-limited snapshots, has no relative error)."""
    p_real, p_fake = np.asarray(p_real, float), np.asarray(p_fake, float)
    top = np.nanmax(p_real) if np.isfinite(p_real).any() else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.abs(p_fake / p_real - 1.0)
    return np.where(np.isfinite(p_real) & (p_real > EMPTY * top), e, np.nan)


def band_summary(k: np.ndarray, err: np.ndarray, n: int) -> dict:
    """Max and mean relative error over 1 ≤ k ≤ n/4, and the max over every bin (NaN bins left out)."""
    low = err[(k >= 1) & (k <= n / 4)]
    low, every = low[np.isfinite(low)], err[np.isfinite(err)]
    nan = float("nan")
    return {"max_rel_err_k_le_n4": float(low.max()) if low.size else nan,
            "mean_rel_err_k_le_n4": float(low.mean()) if low.size else nan,
            "max_rel_err_all_k": float(every.max()) if every.size else nan}
