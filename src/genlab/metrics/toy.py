"""Mode-collapse diagnostics on 2-D mixture toys (ring8, grid25; Srivastava et al. 2017, Lin et al. 2018).

A sample is *high quality* when it lies within 3σ of its nearest mode centre; a mode is *covered* when
at least one high-quality sample is assigned to it (the PacGAN/VEEGAN protocol counts a mode when it
receives any high-quality sample; `min_count` raises that bar).
"""
from __future__ import annotations

import torch
from torch import Tensor


def evaluate_toy(samples: Tensor, centres: Tensor, std: float, *, min_count: int = 1) -> dict:
    """samples (N, D), centres (K, D), std σ of each mode ->
    {"modes_covered": int, "modes_total": K, "hq_fraction": share of samples within 3σ of their nearest
    mode, in [0, 1]}. Non-finite samples count as low quality."""
    x = samples.detach().double().cpu()
    c = centres.detach().double().cpu()
    if x.dim() != 2 or c.dim() != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"samples {tuple(x.shape)} and centres {tuple(c.shape)} must be (N, D) and (K, D)")
    finite = torch.isfinite(x).all(1)  # (N,)
    x = torch.where(finite[:, None], x, torch.zeros_like(x))
    dist, nearest = torch.cdist(x, c).min(1)  # (N,) each
    hq = (dist <= 3.0 * std) & finite
    counts = torch.bincount(nearest[hq], minlength=c.shape[0])  # (K,)
    return {"modes_covered": int((counts >= min_count).sum()), "modes_total": int(c.shape[0]),
            "hq_fraction": float(hq.double().mean()) if len(x) else 0.0}
