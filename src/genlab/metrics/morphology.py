"""Morphology of 2-D fields: Minkowski functionals of excursion sets, and peak counts.

Minkowski functionals (pixel counting, Michielsen & De Raedt 2001, Phys. Rep. 347, 461): the excursion
set {x > ν} of a map is the union of its pixels above ν, each a closed unit square. With n_s squares, n_e
edges and n_v vertices of that union (an edge or vertex counts once however many squares share it),

    area A = n_s,   boundary length U = 2 n_e − 4 n_s,   Euler characteristic χ = n_s − n_e + n_v,

exact for the pixelised set (χ = components − holes, with pixels touching at a corner connected). Per
unit area (the map's H·W pixels; lengths in pixels):

    V0 = A / (H W)                      area fraction
    V1 = (π/4) U' / (H W)               boundary length per unit area, U' = U without the map's own edge
                                        (below); a staircase boundary is on average 4/π longer than the
                                        smooth isotropic curve it digitises, so π/4 makes V1 unbiased for
                                        isotropic fields (a disc of radius r gives ≈ 2πr; an axis-aligned
                                        straight edge of length ℓ gives (π/4) ℓ)
    V2 = χ / (H W)                      Euler characteristic per unit area

Periodic axes wrap (the set lives on a cylinder or torus: a stripe around a periodic axis has χ = 0, a
disc χ = 1); along a non-periodic axis the map ends (nothing above ν beyond the edge, so χ is that of the
part of the set inside the map), and U leaves out the edges on the map's own edge (the window is not
a boundary of the excursion set: a map entirely above ν has V1 = 0).

Peaks: pixels strictly greater than all 8 neighbours (wrapping periodic axes; at a non-periodic edge only
the neighbours inside the map are compared), counted per map in bins of height ν = (x − μ_real) / σ_real.

Generated vs real, per threshold (or height bin): gap = |mean_fake − mean_real| / max(σ_pooled, resolution)
with σ_pooled = √((σ_real² + σ_fake²)/2) over maps and the resolution one pixel / (H W) for V0, two edges
(π/2)/(H W) for V1, one component 1/(H W) for V2 and one peak for the peak counts; the summary is the
maximum over thresholds (bins).
"""
from __future__ import annotations

import math

import numpy as np

PEAK_EDGES = np.arange(-3.0, 6.0 + 1e-9, 0.5)  # height bins in units of σ_real; outside -> end bins
THRESHOLDS = np.linspace(-3.0, 3.0, 25)  # excursion thresholds ν in units of σ_real about μ_real


def _pad(b: np.ndarray, periodic: tuple[int, ...]) -> np.ndarray:
    """One empty row/column after each non-periodic axis of (…, H, W), so np.roll sees the map end there."""
    pad = [(0, 0)] * (b.ndim - 2) + [(0, 0 if 1 in periodic else 1), (0, 0 if 2 in periodic else 1)]
    return np.pad(b, pad)


def counts(b: np.ndarray, periodic: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n_s, n_e, n_v) per map of boolean maps b (…, H, W); periodic: axes of (C, H, W) that wrap (1, 2)."""
    b = _pad(np.asarray(b, bool), periodic)
    down, right = np.roll(b, 1, axis=-2), np.roll(b, 1, axis=-1)
    diag = np.roll(down, 1, axis=-1)
    n_s = b.sum(axis=(-2, -1))
    n_e = (b | down).sum(axis=(-2, -1)) + (b | right).sum(axis=(-2, -1))  # edges between rows, between columns
    n_v = (b | down | right | diag).sum(axis=(-2, -1))  # a corner exists if any of its 4 pixels is in
    return n_s, n_e, n_v


def border(b: np.ndarray, periodic: tuple[int, ...] = ()) -> np.ndarray:
    """Edges of the set lying on the map's own edge along its non-periodic axes, per map."""
    out = np.zeros(b.shape[:-2], np.int64)
    if 1 not in periodic:
        out = out + b[..., 0, :].sum(-1) + b[..., -1, :].sum(-1)
    if 2 not in periodic:
        out = out + b[..., :, 0].sum(-1) + b[..., :, -1].sum(-1)
    return out


def functionals(b: np.ndarray, periodic: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(V0, V1, V2) per map of boolean maps b (…, H, W), per unit area (module docstring)."""
    b = np.asarray(b, bool)
    area = b.shape[-1] * b.shape[-2]
    n_s, n_e, n_v = counts(b, periodic)
    length = 2 * n_e - 4 * n_s - border(b, periodic)
    return n_s / area, (math.pi / 4) * length / area, (n_s - n_e + n_v) / area


def minkowski(x: np.ndarray, thresholds: np.ndarray, periodic: tuple[int, ...] = ()) -> np.ndarray:
    """V0, V1, V2 of the excursion sets {x > ν} of maps x (N, H, W) for each ν: (3, N, T)."""
    out = np.empty((3, len(x), len(thresholds)))
    for t, nu in enumerate(thresholds):
        for i, v in enumerate(functionals(x > nu, periodic)):
            out[i, :, t] = v
    return out


def peaks(x: np.ndarray, periodic: tuple[int, ...] = ()) -> np.ndarray:
    """Boolean (N, H, W): pixels strictly above their 8 neighbours."""
    x = np.asarray(x, np.float64)
    pad = [(0, 0)] + [(0, 0) if a in periodic else (1, 1) for a in (1, 2)]
    p = np.pad(x, pad, constant_values=-np.inf)
    top, left = (0 if 1 in periodic else 1), (0 if 2 in periodic else 1)
    h, w = x.shape[-2:]
    is_peak = np.ones(x.shape, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                nb = np.roll(p, (-dy, -dx), axis=(-2, -1))[:, top:top + h, left:left + w]
                is_peak &= x > nb
    return is_peak


def peak_counts(x: np.ndarray, mu: float, sigma: float, periodic: tuple[int, ...] = (),
                edges: np.ndarray = PEAK_EDGES) -> np.ndarray:
    """Peaks per map and height bin (N, len(edges) − 1); heights (x − mu)/sigma outside the edges go to the
    end bins."""
    out = np.zeros((len(x), len(edges) - 1))
    mask = peaks(x, periodic)
    for i in range(len(x)):
        h = (x[i][mask[i]] - mu) / sigma
        j = np.clip(np.searchsorted(edges, h, side="right") - 1, 0, len(edges) - 2)
        out[i] = np.bincount(j, minlength=len(edges) - 1)
    return out


def resolution(shape: tuple[int, int]) -> np.ndarray:
    """The smallest change of V0, V1, V2 one map can show: one pixel, one pair of edges, one component."""
    area = shape[0] * shape[1]
    return np.array([1.0, math.pi / 2, 1.0]) / area


def standardised_gap(real: np.ndarray, fake: np.ndarray, floor: float) -> np.ndarray:
    """|mean_fake − mean_real| / max(σ_pooled, floor) per column of (N, T) arrays, σ_pooled =
    √((σ_r² + σ_f²)/2) over maps; the floor (the quantity's resolution) keeps the gap finite where neither
    set varies (e.g. every real map 0, every generated one 1 peak: gap 1 for a floor of 1 peak)."""
    d = np.abs(fake.mean(0) - real.mean(0))
    s = np.sqrt((real.var(0) + fake.var(0)) / 2)
    return d / np.maximum(s, floor)
