"""Shared machinery of the classical density baselines (kde, gmm): the data space they live in and
how a fitted (not gradient-trained) model runs through the one trainer.

Space. 'pixel' models the data directly. 'pca' is a probabilistic-PCA-style density on all D
dimensions, so bits/dim stay comparable with the deep models:
    u = S⁻¹ Wᵀ (y − m)            (k whitened principal coordinates, W orthonormal D×k, S = diag std)
    r = y − m − W Wᵀ (y − m)      (the residual in the orthogonal complement)
    log p(y) = log p_u(u) − Σ_i log S_i + log N(r; 0, σ² I_{D−k})
with σ² the mean discarded eigenvalue (Tipping & Bishop 1999); W orthonormal makes the rotation's
Jacobian 1. Quantised images are uniformly dequantised, y = (k + u)/L (likelihood convention
'continuous', as for flows).

Fitting under the phase contract. The model has one phase. Its first call fits the model with
scikit-learn on that batch (so `--train.batch_size` is the fit-set size; hyperparameters are chosen on
a held-out `val_fraction` of it) and stores the result in buffers (checkpointed like any weights). The
phase then returns a differentiable likelihood of the few parameters kept trainable (KDE: the log
bandwidth, by leave-one-out likelihood; GMM: the mixture weights, by the batch likelihood), so any
further steps are plain maximum-likelihood refinement and the trainer needs no special case. The
default `train.steps` is 1.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from ...errors import GenlabError
from ..base import Batch, DataInfo, GenerativeModel, Phase, rand, randn

LOG_2PI = math.log(2 * math.pi)


def check_space_config(cfg) -> None:
    if cfg.space not in ("auto", "pixel", "pca"):
        raise ValueError(f"model.space={cfg.space!r} is invalid; expected auto, pixel or pca")
    if cfg.pca_dim < 1:
        raise ValueError(f"model.pca_dim={cfg.pca_dim} is invalid; expected >= 1")
    if not 0 < cfg.val_fraction < 1:
        raise ValueError(f"model.val_fraction={cfg.val_fraction} is invalid; expected 0 < v < 1")


class Projection(nn.Module):
    """y (B, D) <-> whitened principal coordinates u (B, k), with the residual density."""

    def __init__(self, dims: int, k: int, whiten: bool):
        super().__init__()
        self.dims, self.k, self.whiten = dims, k, whiten
        self.register_buffer("mean", torch.zeros(dims))
        self.register_buffer("components", torch.eye(dims)[:, :k].clone())  # (D, k), orthonormal columns
        self.register_buffer("scale", torch.ones(k))
        self.register_buffer("noise_var", torch.ones(()))

    def fit(self, y: np.ndarray, seed: int) -> None:
        if self.k == self.dims and not self.whiten:
            self.mean.copy_(torch.from_numpy(y.mean(0)))
            return
        from sklearn.decomposition import PCA

        if len(y) <= self.k:
            raise GenlabError(f"PCA to {self.k} dimensions needs more than {self.k} fit examples (got "
                              f"{len(y)}); raise --train.batch_size or lower model.pca_dim")
        pca = PCA(self.k, svd_solver="full", random_state=seed).fit(y)  # exact, not randomized
        self.mean.copy_(torch.from_numpy(pca.mean_))
        self.components.copy_(torch.from_numpy(pca.components_.T))
        self.scale.copy_(torch.from_numpy(np.sqrt(np.maximum(pca.explained_variance_, 1e-12))))
        self.noise_var.fill_(max(float(pca.noise_variance_), 1e-12))

    def to_latent(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """(u (B, k), log p of the residual minus Σ log S (B,)), float64."""
        yc = y.double() - self.mean.double()
        w = self.components.double()
        coords = yc @ w  # (B, k)
        u = coords / self.scale.double()
        extra = -torch.log(self.scale.double()).sum().expand(len(y))
        rest = self.dims - self.k
        if rest > 0:
            r2 = (yc - coords @ w.T).pow(2).sum(1)
            var = self.noise_var.double()
            extra = extra - 0.5 * (rest * (LOG_2PI + torch.log(var)) + r2 / var)
        return u, extra

    def from_latent(self, u: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        """y = m + W S u + r, r ~ N(0, σ² I) restricted to the orthogonal complement."""
        w = self.components.double()
        y = self.mean.double() + (u.double() * self.scale.double()) @ w.T
        if self.dims > self.k:
            e = randn((len(u), self.dims), generator=generator, device=u.device).double()
            y = y + torch.sqrt(self.noise_var.double()) * (e - (e @ w) @ w.T)
        return y


class DensityBaseline(GenerativeModel):
    """Base of `kde` and `gmm`: subclasses implement `_fit_latent(u_train, u_val, seed)`,
    `_log_latent(u) -> (B,) float64`, `_sample_latent(n, generator)`, `_train_loss(u) -> dict`."""

    train_defaults = {"steps": 1, "batch_size": 1000, "lr": 1e-3}
    nll_convention = "continuous"
    provides = frozenset({"nll"})

    def __init__(self, config, data: DataInfo):
        super().__init__(config, data)
        dims = data.dims
        space = config.space if config.space != "auto" else ("pca" if data.is_image else "pixel")
        self.space = space
        k = min(config.pca_dim, dims) if space == "pca" else dims
        self.projection = Projection(dims, k, whiten=space == "pca")
        self.register_buffer("fitted", torch.zeros((), dtype=torch.uint8))

    def phases(self, step: int) -> list[Phase]:
        return [Phase("model", self.loss)]

    # --- data space ---------------------------------------------------------------------------
    def _continuous(self, x: Tensor, generator) -> Tensor:
        """(B, D) float: uniformly dequantised images, or the vectors as they are."""
        x = x.reshape(len(x), -1).float()  # (B, D)
        if not (self.data.levels and self.data.is_image):
            return x
        k = torch.round(x * (self.data.levels - 1))
        return (k + rand(x.shape, generator=generator, device=x.device)) / self.data.levels

    @torch.no_grad()
    def fit(self, x: Tensor, generator: Optional[torch.Generator] = None) -> None:
        """Fit with scikit-learn on x (data space); hyperparameters chosen on a held-out split."""
        seed = 0 if generator is None else int(torch.randint(0, 2 ** 31 - 1, (1,), generator=generator,
                                                             device=generator.device))
        y = self._continuous(x, generator).double()
        self.projection.fit(y.cpu().numpy(), seed)
        u = self.projection.to_latent(y)[0].cpu().numpy()
        n_val = max(1, int(round(self.config.val_fraction * len(u))))
        if len(u) - n_val < 2:
            raise GenlabError(f"fitting {type(self).__name__.lower()} needs at least 3 examples (got "
                              f"{len(u)}); raise --train.batch_size")
        perm = np.random.RandomState(seed).permutation(len(u))
        self._fit_latent(u[perm[n_val:]], u[perm[:n_val]], u, seed)
        self.fitted.fill_(1)

    def loss(self, batch: Batch) -> dict:
        """First call: scikit-learn fit on this batch. Every call: the trainable parameters' NLL."""
        if not bool(self.fitted):
            self.fit(batch.x, batch.generator)
        with torch.autocast(batch.x.device.type, enabled=False):
            u, _ = self.projection.to_latent(self._continuous(batch.x, batch.generator).double())
            return self._train_loss(u)

    # --- likelihood and sampling --------------------------------------------------------------
    @torch.no_grad()
    def nll(self, x: Tensor, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """−log p(y) (B,) nats for y already dequantised (images) or vectors, in data space."""
        with torch.autocast(x.device.type, enabled=False):
            u, extra = self.projection.to_latent(x.reshape(len(x), -1).double())
            return -(self._log_latent(u) + extra).float()

    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        with torch.autocast(self.device.type, enabled=False):
            y = self.projection.from_latent(self._sample_latent(n, generator), generator).float()
        y = y.view(n, *self.data.shape)
        return y.clamp(0, 1) if self.data.is_image else y
