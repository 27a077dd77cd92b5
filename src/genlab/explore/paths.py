"""Paths between two latents.

Linear:     lerp(z0, z1; t) = (1 − t) z0 + t z1
Spherical:  slerp(z0, z1; t) = ((1 − t) ‖z0‖ + t ‖z1‖) · [sin((1 − t) Ω) ẑ0 + sin(t Ω) ẑ1] / sin Ω,
            ẑ = z / ‖z‖, cos Ω = ẑ0·ẑ1   (Shoemake 1985's great circle; White 2016, "Sampling generative
            networks"). The direction follows the great circle and the norm moves linearly between the two
            endpoint norms; for ‖z0‖ = ‖z1‖ this is exactly Shoemake's slerp. (Applying Shoemake's weights
            to unnormalised vectors instead blows up for nearly opposite latents of unequal norm.)

Under a Gaussian prior N(0, I_d) almost all mass lies in a thin shell of radius ≈ √d. The midpoint of a
linear path between two typical latents has norm ≈ √(d/2): it leaves the shell, into a region the
decoder never saw in training. slerp stays on the shell.
"""
from __future__ import annotations

import torch
from torch import Tensor


def _t_like(t: Tensor | float, z: Tensor) -> Tensor:
    t = torch.as_tensor(t, dtype=z.dtype, device=z.device)
    return t.reshape(*t.shape, *([1] * z.dim())) if t.dim() else t  # (T, 1, ..., 1) or scalar


def lerp(z0: Tensor, z1: Tensor, t: Tensor | float) -> Tensor:
    """Linear interpolation. z0, z1: (..., D); t: scalar or (T,) -> (..., D) or (T, ..., D)."""
    tt = _t_like(t, z0)
    return (1 - tt) * z0 + tt * z1


def slerp(z0: Tensor, z1: Tensor, t: Tensor | float, eps: float = 1e-12) -> Tensor:
    """Spherical interpolation along the last dimension. z0, z1: (..., D); t: scalar or (T,).

    Where z0 and z1 are (anti)parallel, sin Ω ≈ 0 and the great circle is undefined: lerp is used there.
    """
    z0d, z1d = z0.double(), z1.double()
    n0 = z0d.norm(dim=-1, keepdim=True)  # (..., 1)
    n1 = z1d.norm(dim=-1, keepdim=True)
    u0, u1 = z0d / n0.clamp_min(eps), z1d / n1.clamp_min(eps)
    omega = torch.acos((u0 * u1).sum(-1, keepdim=True).clamp(-1, 1))  # (..., 1)
    sin = torch.sin(omega)
    tt = _t_like(t, z0d)
    degenerate = (sin.abs() < 1e-6) | (n0 < eps) | (n1 < eps)
    safe = torch.where(degenerate, torch.ones_like(sin), sin)
    direction = (torch.sin((1 - tt) * omega) * u0 + torch.sin(tt * omega) * u1) / safe
    out = torch.where(degenerate, (1 - tt) * z0d + tt * z1d, ((1 - tt) * n0 + tt * n1) * direction)
    return out.to(z0.dtype)


def interpolation_path(z0: Tensor, z1: Tensor, steps: int, kind: str = "slerp") -> Tensor:
    """`steps` evenly spaced points from z0 to z1 (both included). z0, z1: (P, D) -> (P, steps, D)."""
    if kind not in ("lerp", "slerp"):
        raise ValueError(f"path kind {kind!r}; expected lerp or slerp")
    t = torch.linspace(0, 1, steps, dtype=torch.float64)
    pts = (lerp if kind == "lerp" else slerp)(z0.double(), z1.double(), t)  # (steps, P, D)
    return pts.transpose(0, 1).to(z0.dtype)  # (steps, P, D) -> (P, steps, D)
