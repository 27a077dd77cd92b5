"""Latitude–longitude grids and mapping fields with gaps between them (genlab impute, the gap-fill evaluation).

A `Grid` is 1-D latitudes and longitudes in degrees, in file order (either latitude order, any longitude
convention), `periodic` when the evenly spaced longitudes span 360°. `regrid(values, known, src, dst)`
maps (N, h, w) fields with gaps onto another grid:

    value(p) = Σ_c w_c(p) · k_c · v_c / Σ_c w_c(p) · k_c        over the 4 source cells c around p,

w_c the bilinear weights in (latitude, longitude) degrees (longitude wrapping around on a periodic source),
k_c = 1 where the source cell is known. p is known when its nearest source cell is known (gaps keep their
shape instead of being smeared by interpolation) and lies within half a source spacing of the source's
coverage. On a destination coordinate that equals a source coordinate the weights are exactly 0/1, so a
grid mapped onto itself — or onto a reordering of it (north-to-south rows, longitudes −180..180 vs
0..360) — is an exact copy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import GenlabError


@dataclass(frozen=True)
class Grid:
    lat: np.ndarray
    lon: np.ndarray
    periodic: bool

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.lat), len(self.lon)

    @property
    def spacing(self) -> tuple[float, float]:
        """Median |Δlat|, |Δlon| in degrees."""
        return tuple(float(np.median(np.abs(np.diff(a)))) if len(a) > 1 else 0.0 for a in (self.lat, self.lon))

    @classmethod
    def of(cls, lat, lon) -> "Grid":
        lat, lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
        return cls(lat, lon, wraps(lon))

    @classmethod
    def from_meta(cls, coords: Optional[dict]) -> Optional["Grid"]:
        """The grid recorded in a dataset's / run's meta["coords"] (None when it has no lat/lon values)."""
        c = coords or {}
        lat, lon = (c.get("lat") or {}).get("values"), (c.get("lon") or {}).get("values")
        return None if lat is None or lon is None else cls.of(lat, lon)

    def same_as(self, other: "Grid") -> bool:
        return self.shape == other.shape and np.allclose(self.lat, other.lat, atol=1e-4) and \
            np.allclose(np.mod(self.lon, 360.0), np.mod(other.lon, 360.0), atol=1e-4)


def wraps(lon: np.ndarray) -> bool:
    """Evenly spaced longitudes that cover exactly 360°."""
    if len(lon) < 3:
        return False
    d = np.diff(lon)
    step = float(np.median(d))
    return step > 0 and np.abs(d - step).max() <= 0.01 * step and abs(len(lon) * step - 360.0) < 0.05 * step


def _axis(src: np.ndarray, dst: np.ndarray, periodic: bool):
    """Bilinear brackets along one axis: (i0, i1, w1, inside) per destination coordinate, with value =
    (1 − w1)·src[i0] + w1·src[i1]; inside = within the source's coverage (half a spacing beyond the ends)."""
    n = len(src)
    if periodic:
        s, d = np.mod(src, 360.0), np.mod(dst, 360.0)
        order = np.argsort(s)
        ss = np.concatenate([s[order], [s[order][0] + 360.0]])  # (n + 1,) the first again, a turn later
        d = np.where(d < ss[0], d + 360.0, d)
        j = np.clip(np.searchsorted(ss, d, side="right") - 1, 0, n - 1)
        w1 = (d - ss[j]) / (ss[j + 1] - ss[j])
        i0, i1 = order[j], order[(j + 1) % n]
        inside = np.ones(len(dst), bool)
    else:
        order = np.argsort(src)
        ss = src[order]
        half = 0.5 * (float(np.median(np.diff(ss))) if n > 1 else 1.0)
        inside = (dst >= ss[0] - half - 1e-6) & (dst <= ss[-1] + half + 1e-6)
        dc = np.clip(dst, ss[0], ss[-1])
        j = np.clip(np.searchsorted(ss, dc, side="right") - 1, 0, max(n - 2, 0))
        if n == 1:
            i0 = i1 = np.zeros(len(dst), np.int64)
            w1 = np.zeros(len(dst))
        else:
            w1 = np.clip((dc - ss[j]) / (ss[j + 1] - ss[j]), 0.0, 1.0)
            i0, i1 = order[j], order[j + 1]
    w1 = np.where(np.abs(w1) < 1e-9, 0.0, np.where(np.abs(w1 - 1.0) < 1e-9, 1.0, w1))
    return i0, i1, w1, inside


def _lon_axis(src: Grid, dst_lon: np.ndarray):
    """_axis along longitude; a regional source's destination longitudes are first brought to its convention."""
    if not src.periodic and len(src.lon) > 1:
        s0, half = float(src.lon.min()), 0.5 * src.spacing[1]
        dst_lon = s0 - half + np.mod(np.asarray(dst_lon, np.float64) - s0 + half, 360.0)
    return _axis(src.lon, dst_lon, src.periodic)


def regrid(values: np.ndarray, known: np.ndarray, src: Grid, dst: Grid) -> tuple[np.ndarray, np.ndarray]:
    """(N, h, w) values with a known mask on `src` -> (N, H, W) values and known mask on `dst` (module
    docstring). Unknown destination cells hold NaN."""
    values = np.asarray(values, np.float64)
    known = np.asarray(known, bool) & np.isfinite(values)
    r0, r1, rw, rin = _axis(src.lat, dst.lat, False)
    c0, c1, cw, cin = _lon_axis(src, dst.lon)
    v = np.where(known, values, 0.0)
    k = known.astype(np.float64)
    num = np.zeros((len(values), len(dst.lat), len(dst.lon)))
    den = np.zeros_like(num)
    for ri, wr in ((r0, 1.0 - rw), (r1, rw)):
        for ci, wc in ((c0, 1.0 - cw), (c1, cw)):
            w = wr[:, None] * wc[None, :]  # (H, W)
            num += w * v[:, ri][:, :, ci]
            den += w * k[:, ri][:, :, ci]
    near_r = np.where(rw >= 0.5, r1, r0)
    near_c = np.where(cw >= 0.5, c1, c0)
    near_known = known[:, near_r][:, :, near_c]  # (N, H, W)
    ok = near_known & (den > 0) & rin[None, :, None] & cin[None, None, :]
    out = np.full(num.shape, np.nan)
    out[ok] = num[ok] / den[ok]
    return out, ok


def check_mappable(src: Grid, dst: Grid, what: str) -> None:
    """A one-line error when `src` cannot sensibly be mapped onto `dst`: no overlap, or spacings that differ
    by more than a factor 4 (interpolation would invent or discard most of the detail)."""
    (sa, so), (da, do) = src.spacing, dst.spacing
    for s, d, name in ((sa, da, "latitude"), (so, do, "longitude")):
        if s > 0 and d > 0 and not 0.25 <= s / d <= 4.0:
            raise GenlabError(f"{what} has a {name} spacing of {s:g}° but the run was trained on {d:g}°; a factor "
                              "over 4 cannot be mapped faithfully — regrid it closer to the run's grid first")
    _, _, _, rin = _axis(src.lat, dst.lat, False)
    _, _, _, cin = _lon_axis(src, dst.lon)
    if not rin.any() or not cin.any():
        raise GenlabError(f"{what} (latitudes {src.lat.min():g}..{src.lat.max():g}, longitudes {src.lon.min():g}.."
                          f"{src.lon.max():g}) does not overlap the run's grid (latitudes {dst.lat.min():g}.."
                          f"{dst.lat.max():g}, longitudes {dst.lon.min():g}..{dst.lon.max():g})")
