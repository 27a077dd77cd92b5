"""Latent traversals.

Per dimension: z(d, u) = z_base with z_d replaced by μ_d + u σ_d, u evenly spaced in [−span, span]
(span = 3: ±3σ). For a 2-D latent, the full manifold grid of Kingma & Welling (2014, Fig. 4): a regular
grid on the unit square mapped through the inverse Gaussian CDF, z = μ + σ Φ⁻¹(p), so each cell covers
equal prior mass; here p runs from Φ(−span) to Φ(span), i.e. the grid reaches ±span σ.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def traversal(base: Tensor, dims: Sequence[int], mean: Tensor, std: Tensor, steps: int,
              span: float = 3.0) -> Tensor:
    """base, mean, std: (D,) -> (len(dims), steps, D), row r varying dimension dims[r]."""
    u = torch.linspace(-span, span, steps, dtype=base.dtype, device=base.device)  # (steps,)
    rows = []
    for d in dims:
        z = base.unsqueeze(0).repeat(steps, 1)  # (steps, D)
        z[:, d] = mean[d] + u * std[d]
        rows.append(z)
    return torch.stack(rows)  # (len(dims), steps, D)


def manifold_grid(steps: int, mean: Tensor, std: Tensor, span: float = 3.0) -> Tensor:
    """2-D latent grid, (steps, steps, 2): row i has z_1 decreasing top to bottom, column j z_0
    increasing left to right (so the picture reads like a plot of the plane)."""
    lo = torch.special.ndtr(torch.tensor(-span, dtype=torch.float64))
    p = torch.linspace(float(lo), float(1 - lo), steps, dtype=torch.float64)
    q = torch.special.ndtri(p).to(mean.dtype)  # (steps,) standard-normal quantiles in [−span, span]
    z0 = mean[0] + std[0] * q
    z1 = mean[1] + std[1] * q.flip(0)
    g1, g0 = torch.meshgrid(z1, z0, indexing="ij")  # (steps, steps) each
    return torch.stack([g0, g1], dim=-1)  # (steps, steps, 2)
