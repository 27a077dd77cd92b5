"""Variational autoencoder (Kingma & Welling 2014).

Encoder q_φ(z|x) = N(μ(x), diag σ²(x)); reparameterisation z = μ + σ ⊙ ε, ε ~ N(0, I); prior
p(z) = N(0, I); decoder p_θ(x|z) selectable. Training maximises the ELBO (β = 1 is the true bound):

    ELBO(x) = E_q[log p_θ(x|z)] − β KL(q_φ(z|x) ‖ p(z)),   loss = −ELBO / 1 (nats per example).

`nll(x, k)` is the importance-weighted bound (Burda et al. 2016), tighter as k grows:
    log p(x) ≥ log (1/k) Σ_i p_θ(x|z_i) p(z_i) / q_φ(z_i|x),   z_i ~ q_φ(z|x).
At test time, as in the lecture, new data come from z ~ N(0, I) decoded by p_θ(x|z).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from ...errors import GenlabError
from ...losses import functional as LF
from ...registry import register_model
from ..base import Batch, DataInfo, GenerativeModel, Phase, randn
from . import backbone

LIKELIHOODS = ("auto", "bernoulli", "gaussian", "logistic")


@dataclass
class VAEConfig:
    arch: str = "auto"  # auto | conv | mlp (encoder/decoder type; auto = conv for images, mlp for vectors)
    latent_dim: int = 16  # size of z (prior N(0, I))
    hidden: int = 512  # MLP width
    depth: int = 2  # MLP hidden layers
    channels: int = 32  # conv base width
    likelihood: str = "auto"  # auto | bernoulli | gaussian | logistic (discretised, for 8-bit data)
    sigma: float = 0.0  # gaussian decoder: fixed σ if > 0, else a learned σ per dimension
    beta: float = 1.0  # weight of the KL term (1 = the ELBO)
    sample_mean: bool = True  # `sample` returns the decoder mean (True) or a draw from p(x|z)

    def __post_init__(self):
        if self.latent_dim < 1:
            raise ValueError(f"model.latent_dim={self.latent_dim} is invalid; expected >= 1")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"model.likelihood={self.likelihood!r} is invalid; expected one of {LIKELIHOODS}")
        if self.beta < 0:
            raise ValueError(f"model.beta={self.beta} is invalid; expected >= 0")
        if self.sigma < 0:
            raise ValueError(f"model.sigma={self.sigma} is invalid; expected >= 0 (0 = learned)")
        if self.arch not in ("auto", "conv", "mlp"):
            raise ValueError(f"model.arch={self.arch!r} is invalid; expected auto, conv or mlp")


def resolve_likelihood(name: str, data: DataInfo) -> str:
    """auto: discretised logistic for quantised data (exact discrete likelihood), Gaussian otherwise."""
    if name == "auto":
        return "logistic" if data.levels else "gaussian"
    if name == "logistic" and not data.levels:
        raise GenlabError("model.likelihood=logistic needs quantised data (8-bit images, digits); use "
                          "model.likelihood=gaussian for continuous data")
    return name


@register_model("vae", config=VAEConfig, family="likelihood",
                help="variational autoencoder: ELBO, reparameterisation, N(0,I) prior, IWAE bound",
                tiny={"latent_dim": 4, "hidden": 16, "channels": 4})
class VAE(GenerativeModel):
    ema_default = ("encoder", "decoder")
    provides = frozenset({"encode", "decode", "reconstruct", "nll", "elbo", "sample_latent"})
    nll_options = ("k",)

    def __init__(self, config: VAEConfig, data: DataInfo):
        super().__init__(config, data)
        arch = backbone.resolve_arch(config.arch, data)
        self.likelihood = resolve_likelihood(config.likelihood, data)
        heads = 2 if self.likelihood == "logistic" or (self.likelihood == "gaussian" and config.sigma == 0) else 1
        kw = dict(hidden=config.hidden, depth=config.depth, channels=config.channels)
        self.encoder = backbone.encoder(arch, data, 2 * config.latent_dim, **kw)
        self.decoder = backbone.decoder(arch, data, config.latent_dim, heads, **kw)

    def networks(self):
        return {"encoder": self.encoder, "decoder": self.decoder}

    def phases(self, step: int) -> list[Phase]:
        return [Phase("model", self.loss)]

    # --- the maths ----------------------------------------------------------------------------
    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x) parameters: μ, log σ², each (B, latent_dim)."""
        h = self.encoder(x).float()
        mu, logvar = h.chunk(2, dim=1)  # (B, 2L) -> 2 x (B, L)
        return mu, logvar.clamp(-12.0, 8.0)

    def log_px_z(self, x: Tensor, z: Tensor) -> Tensor:
        """log p_θ(x|z) per example, (B,) nats."""
        out = self.decoder(z).float()
        c = self.data.shape[0]
        if self.likelihood == "bernoulli":
            return LF.bernoulli_log_prob(out, x)
        if self.likelihood == "logistic":
            mean, log_scale = out[:, :c], out[:, c:]  # (B, C, ...) each
            return LF.discretized_logistic_log_prob(mean, log_scale, x, self.data.levels)
        if self.config.sigma > 0:
            return LF.gaussian_log_prob(out, torch.full_like(out, math.log(self.config.sigma)), x)
        return LF.gaussian_log_prob(out[:, :c], out[:, c:].clamp(-7.0, 5.0), x)

    def loss(self, batch: Batch) -> dict:
        """−ELBO = −E_q[log p(x|z)] + β KL(q(z|x) ‖ N(0, I)), one reparameterised sample per example."""
        x = batch.x
        mu, logvar = self.posterior(x)
        eps = randn(mu.shape, generator=batch.generator, device=mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps  # reparameterisation trick
        rec = self.log_px_z(x, z)
        kl = LF.kl_std_normal(mu, logvar)
        loss = (-rec + self.config.beta * kl).mean()
        return {"loss": loss, "rec_nll": -rec.mean().detach(), "kl": kl.mean().detach(),
                "elbo": (rec - kl).mean().detach()}

    @torch.no_grad()
    def elbo(self, x: Tensor, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """Per-example ELBO (β = 1), (B,) nats, one posterior sample."""
        mu, logvar = self.posterior(x)
        z = mu + torch.exp(0.5 * logvar) * randn(mu.shape, generator=generator, device=mu.device)
        return self.log_px_z(x, z) - LF.kl_std_normal(mu, logvar)

    @torch.no_grad()
    def nll(self, x: Tensor, *, generator: Optional[torch.Generator] = None, k: int = 100,
            chunk: int = 50) -> Tensor:
        """Importance-weighted upper bound on −log p(x), (B,) nats, with k samples from q(z|x)."""
        mu, logvar = self.posterior(x)
        terms = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = randn((m, *mu.shape), generator=generator, device=mu.device)  # (m, B, L)
            z = mu + torch.exp(0.5 * logvar) * eps
            zf = z.reshape(m * len(x), -1)  # (m*B, L)
            xr = x.unsqueeze(0).expand(m, *x.shape).reshape(m * len(x), *x.shape[1:])  # (m*B, ...)
            log_w = (self.log_px_z(xr, zf) + LF.log_std_normal(zf)
                     - LF.log_normal(zf, mu.repeat(m, 1), logvar.repeat(m, 1)))
            terms.append(log_w.view(m, len(x)))  # (m, B)
        log_w = torch.cat(terms, 0)  # (k, B)
        return -(torch.logsumexp(log_w, 0) - math.log(k))

    @property
    def nll_convention(self) -> str:
        """How `nll` relates to the data: 'discrete' (exact probability of the quantised values),
        'continuous' (a density on the [0, 1]-scaled values), 'bernoulli' (cross-entropy, a proper
        likelihood only for binary data)."""
        return {"logistic": "discrete", "gaussian": "continuous", "bernoulli": "bernoulli"}[self.likelihood]

    # --- capabilities -------------------------------------------------------------------------
    def encode(self, x: Tensor) -> Tensor:
        """The posterior mean μ(x) (the usual deterministic code)."""
        return self.posterior(x)[0]

    def decode(self, z: Tensor, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """Mean of p(x|z) (or a draw from it if `model.sample_mean` is false and a generator is given)."""
        out = self.decoder(z).float()
        c = self.data.shape[0]
        if self.likelihood == "bernoulli":
            p = torch.sigmoid(out)
            if not self.config.sample_mean and generator is not None:
                return (torch.rand(p.shape, generator=generator, device=p.device) < p).float()
            return p
        mean = out[:, :c] if out.shape[1] > c else out
        if self.likelihood == "logistic":
            mean = (mean + 1) / 2  # decoder works on y = 2x − 1
            if not self.config.sample_mean and generator is not None:
                s = torch.exp(out[:, c:].clamp(min=-7.0)) / 2
                u = torch.rand(mean.shape, generator=generator, device=mean.device).clamp(1e-5, 1 - 1e-5)
                x = mean + s * (torch.log(u) - torch.log1p(-u))
                q = self.data.levels - 1
                return (x.clamp(0, 1) * q).round() / q
            return mean.clamp(0, 1)
        if not self.config.sample_mean and generator is not None:
            sd = self.config.sigma if self.config.sigma > 0 else torch.exp(out[:, c:].clamp(-7.0, 5.0))
            return mean + sd * torch.randn(mean.shape, generator=generator, device=mean.device)
        return mean

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def sample_latent(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        return randn((n, self.config.latent_dim), generator=generator, device=self.device)

    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """z ~ N(0, I), x = decode(z): the lecture's "test time"."""
        return self.decode(self.sample_latent(n, generator=generator), generator=generator)
