"""Filling gaps by the nearest local mean: a cheap, parameter-free first guess for cells with no value.

    b(p) = Σ_{q ∈ W_r(p)} M_q X_q / Σ_{q ∈ W_r(p)} M_q,   r = the smallest radius in `radii` with Σ M_q > 0,

W_r(p) the (2r + 1) × (2r + 1) window around p (longitude wraps when `periodic_w`; beyond the other edges
there is nothing). Known cells get the mean of their window too (the smallest radius, 1): this is a local
smooth, not an interpolant. Box sums are separable, so each radius costs two 1-D pools. Used by the inpaint
model's residual base where no context value is valid (models/restoration/inpaint.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .padding import pad2d

RADII = (1, 2, 4, 8, 16, 32, 64)


def local_mean_fill(x: Tensor, mask: Tensor, *, periodic_w: bool = False,
                    radii: tuple[int, ...] = RADII) -> tuple[Tensor, Tensor]:
    """(b, found) for x (N, C, H, W) and mask (N, 1 | C, H, W), 1 = known (values in holes ignored, NaN
    allowed): b as in the module docstring, 0 where no window up to max(radii) holds a known cell
    (`found` False there)."""
    m = mask.float().expand_as(x)
    xm = torch.where(m > 0, x.float(), torch.zeros((), device=x.device)) * m
    out = torch.zeros_like(xm)
    found = torch.zeros(xm.shape, dtype=torch.bool, device=x.device)
    w = x.shape[-1]
    for r in radii:
        rw = min(r, w) if periodic_w else r
        mode = ("zeros", "periodic" if periodic_w else "zeros")
        both = pad2d(torch.cat([xm, m], 1), (r, rw), mode)
        both = F.avg_pool2d(F.avg_pool2d(both, (1, 2 * rw + 1), stride=1), (2 * r + 1, 1), stride=1)
        s, c = both.split(xm.shape[1], 1)
        new = (c > 0) & ~found
        out = torch.where(new, s / c.clamp_min(1e-12), out)
        found = found | new
        if bool(found.all()):
            break
    return out, found
