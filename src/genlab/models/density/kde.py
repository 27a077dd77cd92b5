"""Kernel density estimate (Parzen window) with a Gaussian kernel, the lectures' first density model.

    p̂(u) = (1/N) Σ_{i=1}^{N} N(u; u_i, h² I_k)
         = (1/N) Σ_i (2π h²)^{−k/2} exp(−‖u − u_i‖² / (2h²)).
The bandwidth h is chosen by scikit-learn's KernelDensity held-out log-likelihood over a grid
(`bandwidths`, or Scott's rule × 2^{−3..3}); afterwards the trainable log h follows the gradient of
the leave-one-out log-likelihood of the stored points. In 'pca' space the KDE lives on whitened
principal coordinates and the residual is Gaussian (see base.py), so log p is a density on all D dims.
Sampling: pick a stored point uniformly, add N(0, h² I).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from ...registry import register_model
from ..base import DataInfo, randn
from .base import LOG_2PI, DensityBaseline, check_space_config


@dataclass
class KDEConfig:
    space: str = "auto"  # auto (pca for images, pixel for vectors) | pixel | pca
    pca_dim: int = 32  # PCA components kept when space=pca
    bandwidths: tuple[float, ...] = ()  # candidate h; () = Scott's rule × 2^{−3..3}
    val_fraction: float = 0.2  # of the fit batch, held out to choose h
    max_points: int = 10000  # kernel centres kept (the fit batch, up to this many)
    loo_queries: int = 1000  # stored points used per leave-one-out refinement step

    def __post_init__(self):
        check_space_config(self)
        if any(b <= 0 for b in self.bandwidths):
            raise ValueError(f"model.bandwidths={self.bandwidths} is invalid; expected positive numbers")
        if self.max_points < 2 or self.loo_queries < 1:
            raise ValueError(f"model.max_points={self.max_points}/loo_queries={self.loo_queries} invalid; "
                             "expected >= 2 and >= 1")


@register_model("kde", config=KDEConfig, family="likelihood",
                help="Gaussian kernel density estimate (scikit-learn), bandwidth chosen on a validation "
                     "split; pixel or PCA space",
                tiny={"pca_dim": 4, "max_points": 64, "loo_queries": 8}, test_data="digits")
class KDE(DensityBaseline):
    def __init__(self, config: KDEConfig, data: DataInfo):
        super().__init__(config, data)
        k = self.projection.k
        self.register_buffer("centres", torch.zeros(config.max_points, k))
        self.register_buffer("count", torch.ones((), dtype=torch.long))
        self.log_bandwidth = nn.Parameter(torch.zeros(()))

    def networks(self):
        return {}

    def _fit_latent(self, u_train: np.ndarray, u_val: np.ndarray, u_all: np.ndarray, seed: int) -> None:
        from sklearn.neighbors import KernelDensity

        k = u_train.shape[1]
        grid = list(self.config.bandwidths)
        if not grid:
            scott = float(np.mean(u_train.std(0))) * len(u_train) ** (-1.0 / (k + 4))
            grid = [scott * 2.0 ** e for e in np.arange(-3, 3.5, 0.5)]
        scores = [KernelDensity(bandwidth=h).fit(u_train).score(u_val) for h in grid]
        best = grid[int(np.argmax(scores))]
        keep = u_all[np.random.RandomState(seed).permutation(len(u_all))[:self.config.max_points]]
        self.centres.zero_()
        self.centres[:len(keep)] = torch.from_numpy(keep).to(self.centres)
        self.count.fill_(len(keep))
        self.log_bandwidth.data.fill_(math.log(best))
        self.selection = {"bandwidths": grid, "val_loglik": scores, "chosen": best}

    def _log_kernel_sum(self, u: Tensor, log_h: Tensor, exclude_self: bool = False) -> Tensor:
        """log (1/N') Σ_i N(u; u_i, h² I), (B,) float64; exclude_self drops centre b for query b."""
        c = self.centres[:int(self.count)].double()
        d2 = (u.pow(2).sum(1, keepdim=True) + c.pow(2).sum(1) - 2 * u @ c.T).clamp(min=0)  # (B, N)
        log_h = log_h.double()
        logk = -d2 / (2 * torch.exp(2 * log_h))
        n = c.shape[0]
        if exclude_self:
            eye = torch.zeros_like(logk, dtype=torch.bool)
            eye[torch.arange(len(u)), torch.arange(len(u))] = True
            logk = logk.masked_fill(eye, -math.inf)
            n -= 1
        k = u.shape[1]
        return torch.logsumexp(logk, 1) - math.log(max(n, 1)) - 0.5 * k * (LOG_2PI + 2 * log_h)

    def _log_latent(self, u: Tensor) -> Tensor:
        out = [self._log_kernel_sum(part, self.log_bandwidth) for part in u.split(500)]
        return torch.cat(out)

    def _train_loss(self, u: Tensor) -> dict:
        """Leave-one-out NLL of the stored points w.r.t. log h (nats per point)."""
        q = min(int(self.count), self.config.loo_queries)
        nll = -self._log_kernel_sum(self.centres[:q].double(), self.log_bandwidth, exclude_self=True).mean()
        return {"loss": nll.float(), "loo_nll_nats": nll.detach().float(),
                "bandwidth": torch.exp(self.log_bandwidth.detach())}

    def _sample_latent(self, n: int, generator: Optional[torch.Generator]) -> Tensor:
        m = int(self.count)
        idx = torch.randint(0, m, (n,), generator=generator, device=self.device if generator is None
                            else generator.device)
        noise = randn((n, self.centres.shape[1]), generator=generator, device=self.centres.device).double()
        return self.centres[idx.to(self.centres.device)].double() + torch.exp(self.log_bandwidth.double()) * noise
