"""Gaussian mixture model fitted by EM (scikit-learn's GaussianMixture).

    p(u) = Σ_{m=1}^{K} π_m N(u; μ_m, Σ_m),   π = softmax(logits).
K is chosen from `components` by held-out log-likelihood (`val_fraction` of the fit batch), then refit
on the whole batch. Means and covariances are stored as buffers; the mixture logits stay trainable, so
further steps refine π by gradient ascent on the batch log-likelihood. 'pca' space: see base.py.
Sampling: m ~ Categorical(π), u = μ_m + chol(Σ_m) ε.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from ...registry import register_model
from ..base import DataInfo, rand, randn
from .base import LOG_2PI, DensityBaseline, check_space_config


@dataclass
class GMMConfig:
    space: str = "auto"  # auto (pca for images, pixel for vectors) | pixel | pca
    pca_dim: int = 32  # PCA components kept when space=pca
    components: tuple[int, ...] = (1, 2, 4, 8, 16, 32)  # candidate K, chosen on the validation split
    covariance: str = "full"  # full | diag (covariance of each component)
    reg_covar: float = 1e-4  # added to the covariance diagonals (scikit-learn's reg_covar)
    val_fraction: float = 0.2  # of the fit batch, held out to choose the number of components

    def __post_init__(self):
        check_space_config(self)
        if not self.components or any(k < 1 for k in self.components):
            raise ValueError(f"model.components={self.components} is invalid; expected positive integers")
        if self.covariance not in ("full", "diag"):
            raise ValueError(f"model.covariance={self.covariance!r} is invalid; expected full or diag")
        if self.reg_covar < 0:
            raise ValueError(f"model.reg_covar={self.reg_covar} is invalid; expected >= 0")


@register_model("gmm", config=GMMConfig, family="likelihood",
                help="Gaussian mixture (scikit-learn EM), components chosen on a validation split; "
                     "pixel or PCA space",
                tiny={"pca_dim": 4, "components": (1, 2)}, test_data="digits")
class GMM(DensityBaseline):
    def __init__(self, config: GMMConfig, data: DataInfo):
        super().__init__(config, data)
        k, kmax = self.projection.k, max(config.components)
        self.register_buffer("means", torch.zeros(kmax, k))
        eye = torch.eye(k).expand(kmax, k, k).clone()
        # lower-triangular Cholesky factors: of the covariance (sampling) and of the precision (density)
        self.register_buffer("cov_chol", eye.clone())
        self.register_buffer("prec_chol", eye.clone())
        self.register_buffer("active", torch.zeros(kmax, dtype=torch.bool))
        self.active[0] = True
        self.logits = nn.Parameter(torch.zeros(kmax))

    def networks(self):
        return {}

    def _fit_latent(self, u_train: np.ndarray, u_val: np.ndarray, u_all: np.ndarray, seed: int) -> None:
        from sklearn.mixture import GaussianMixture

        cfg = self.config
        cands = sorted({k for k in cfg.components if k <= len(u_train)}) or [1]
        make = lambda k: GaussianMixture(k, covariance_type=cfg.covariance, reg_covar=cfg.reg_covar,  # noqa: E731
                                         random_state=seed, max_iter=200)
        scores = [make(k).fit(u_train).score(u_val) for k in cands]
        best = cands[int(np.argmax(scores))]
        gm = make(best).fit(u_all)
        cov = gm.covariances_ if cfg.covariance == "full" else np.stack([np.diag(c) for c in gm.covariances_])
        chol = np.linalg.cholesky(cov)  # (K, k, k): Σ = L Lᵀ
        prec_chol = np.linalg.inv(chol)  # Σ⁻¹ = L⁻ᵀ L⁻¹, so ‖L⁻¹(u − μ)‖² is the Mahalanobis term
        self.active.zero_()
        self.active[:best] = True
        self.means[:best] = torch.from_numpy(gm.means_).to(self.means)
        self.cov_chol[:best] = torch.from_numpy(chol).to(self.cov_chol)
        self.prec_chol[:best] = torch.from_numpy(prec_chol).to(self.prec_chol)
        self.logits.data.zero_()
        self.logits.data[:best] = torch.from_numpy(np.log(gm.weights_)).to(self.logits)
        self.selection = {"components": cands, "val_loglik": scores, "chosen": best}

    def _log_weights(self) -> Tensor:
        return torch.log_softmax(self.logits.double().masked_fill(~self.active, -1e30), 0)

    def _log_components(self, u: Tensor) -> Tensor:
        """log N(u; μ_m, Σ_m) for the active components, (B, K') float64."""
        act = self.active
        mu, p = self.means[act].double(), self.prec_chol[act].double()  # (K', k), (K', k, k)
        diff = u.unsqueeze(0) - mu.unsqueeze(1)  # (K', B, k)
        m = torch.einsum("mij,mbj->mbi", p, diff)  # L⁻¹ (u − μ), (K', B, k)
        logdet = torch.log(torch.diagonal(p, dim1=1, dim2=2)).sum(1)  # log|Σ|^{−1/2}
        k = u.shape[1]
        return (-0.5 * (k * LOG_2PI + m.pow(2).sum(2)) + logdet.unsqueeze(1)).T  # (B, K')

    def _log_latent(self, u: Tensor) -> Tensor:
        return torch.logsumexp(self._log_components(u) + self._log_weights()[self.active], 1)

    def _train_loss(self, u: Tensor) -> dict:
        """Batch NLL w.r.t. the mixture logits (nats per example)."""
        nll = -self._log_latent(u).mean()
        return {"loss": nll.float(), "nll_latent_nats": nll.detach().float(),
                "components": self.active.sum().float()}

    def _sample_latent(self, n: int, generator: Optional[torch.Generator]) -> Tensor:
        w = torch.exp(self._log_weights())  # (K,)
        u = rand((n, 1), generator=generator, device=self.means.device).double()
        comp = (w.cumsum(0).unsqueeze(0) < u).sum(1).clamp(max=int(self.active.sum()) - 1)  # (n,)
        eps = randn((n, self.means.shape[1]), generator=generator, device=self.means.device).double()
        return self.means[comp].double() + torch.einsum("nij,nj->ni", self.cov_chol[comp].double(), eps)
