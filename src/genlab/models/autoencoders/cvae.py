"""`cvae`: conditional variational autoencoder (Sohn et al. 2015), conditioned on a class label y.

    q_φ(z | x, y) = N(μ(x, y), diag σ²(x, y)),   p(z) = N(0, I),   p_θ(x | z, y) as in `vae`,
    ELBO(x | y) = E_q[log p_θ(x | z, y)] − β KL(q_φ(z | x, y) ‖ p(z))  ≤  log p_θ(x | y)   (β = 1),
    loss = −ELBO(x | y), nats per example, one reparameterised sample per example.

The label enters both networks as a one-hot vector (Sohn et al.'s choice; it has no parameters of its
own, the first layer of each network learns the class embedding): K constant extra input channels of
the encoder for images (K extra features for vectors and for arch=mlp) and K extra decoder inputs
next to z. Networks, likelihoods (bernoulli, gaussian, discretised logistic) and every `model.*` key
are those of `vae` (vae.py): p(x | z, y) is the `vae` likelihood of a `vae` decoder whose input is
[z, onehot(y)], computed by vae.py's own `log_px_z` / `decode`.

Capabilities. With a uniform class prior p(y) = 1/K the model defines p(x) = Σ_y p(y) p(x | y), so
the generic calls that see images alone get bounds on log p(x):
  elbo(x)    = E_{q(y|x)}[log p(y) + ELBO(x | y)] + H(q(y|x))  ≤  log p(x)   (Kingma et al. 2014,
               eq. 7), with q(y | x) ∝ p(y) exp(log p(x | μ(x, y), y) − KL) read off the model itself
               at the posterior mean (deterministic, so the one-sample estimate stays unbiased);
  nll(x, k)  = −log Σ_y p(y) p̂_k(x | y), p̂_k the importance-weighted estimate (Burda et al. 2016) of
               p(x | y) with k samples of q(z | x, y): an upper bound on −log p(x) in expectation.
Both cost K times the `vae` computation. With `y=` they give the class-conditional bounds instead.
encode / reconstruct / decode need the label, so they are not declared (the CLI passes images or
latents alone); `posterior(x, y)` and `decode_given(z, y)` are the conditional versions.

`sample(n, cond={"y": labels})` draws z ~ N(0, I) and decodes with the given labels; without `cond`
the labels cycle 0, 1, ..., K−1, 0, ... (so a grid shows every class). The preview has one row per
class. The label plumbing shared with the class-conditional GAN (`cdcgan`) is in models/conditioning.py.
"""
from __future__ import annotations

import math
from typing import Mapping, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ...losses import functional as LF
from ...registry import register_model
from ..base import Batch, DataInfo, GenerativeModel, Panel, Phase, randn
from ..conditioning import LabelInput, class_count, class_labels, class_preview
from . import backbone
from .vae import VAE, VAEConfig, resolve_likelihood


# --- the model ------------------------------------------------------------------------------------

@register_model("cvae", config=VAEConfig, family="likelihood",
                help="conditional VAE (Sohn et al.): q(z|x,y), p(x|z,y), one-hot labels; sample(cond={'y': ...}); "
                     "elbo/nll bound log p(x) over a uniform class prior",
                tiny={"latent_dim": 4, "hidden": 16, "channels": 4}, test_data="digits")
class CVAE(GenerativeModel):
    requires = {"x": ("image", "vector"), "y": ("label",)}
    sample_conditions = ("y",)
    ema_default = ("encoder", "decoder")
    provides = frozenset({"elbo", "nll"})
    nll_options = ("k",)
    nll_convention = VAE.nll_convention  # the same decoders, so the same relation to the data

    def __init__(self, config: VAEConfig, data: DataInfo):
        super().__init__(config, data)
        self.n_classes = k = class_count(data, "cvae")
        arch = backbone.resolve_arch(config.arch, data)
        self.likelihood = resolve_likelihood(config.likelihood, data)
        heads = 2 if self.likelihood == "logistic" or (self.likelihood == "gaussian" and config.sigma == 0) else 1
        kw = dict(hidden=config.hidden, depth=config.depth, channels=config.channels)
        if arch == "conv":  # the encoder sees C + K channels
            widened = DataInfo((data.shape[0] + k, *data.shape[1:]), data.levels)
        else:  # the encoder sees D + K features
            widened = DataInfo((data.dims + k,), None)
        self.encoder = LabelInput(backbone.encoder(arch, widened, 2 * config.latent_dim, **kw), k,
                                  spatial=arch == "conv")
        self.decoder = backbone.decoder(arch, data, config.latent_dim + k, heads, **kw)

    def networks(self):
        return {"encoder": self.encoder, "decoder": self.decoder}

    def phases(self, step: int) -> list[Phase]:
        return [Phase("model", self.loss)]

    # --- the maths ----------------------------------------------------------------------------
    def posterior(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """q(z | x, y) parameters: μ, log σ², each (B, latent_dim)."""
        h = self.encoder(x, y).float()
        mu, logvar = h.chunk(2, dim=1)  # (B, 2L) -> 2 x (B, L)
        return mu, logvar.clamp(-12.0, 8.0)

    def _zy(self, z: Tensor, y: Tensor) -> Tensor:
        return torch.cat([z, F.one_hot(y, self.n_classes).to(z.dtype)], 1)  # (B, L + K): the decoder input

    def log_px_zy(self, x: Tensor, z: Tensor, y: Tensor) -> Tensor:
        """log p_θ(x | z, y) per example, (B,) nats: vae's likelihood of the decoder on [z, onehot(y)]."""
        return VAE.log_px_z(self, x, self._zy(z, y))  # type: ignore[arg-type]

    def decode_given(self, z: Tensor, y: Tensor, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """Mean of p(x | z, y) (a draw if model.sample_mean is false and a generator is given)."""
        return VAE.decode(self, self._zy(z, y), generator=generator)  # type: ignore[arg-type]

    def _reparam(self, mu: Tensor, logvar: Tensor, generator) -> Tensor:
        return mu + torch.exp(0.5 * logvar) * randn(mu.shape, generator=generator, device=mu.device)

    def _elbo_given(self, x: Tensor, y: Tensor, generator) -> tuple[Tensor, Tensor]:
        """One-sample (log p(x | z, y), KL(q(z|x,y) ‖ p(z))), each (B,) nats."""
        mu, logvar = self.posterior(x, y)
        return self.log_px_zy(x, self._reparam(mu, logvar, generator), y), LF.kl_std_normal(mu, logvar)

    def loss(self, batch: Batch) -> dict:
        """−ELBO(x | y) = −E_q[log p(x | z, y)] + β KL(q(z | x, y) ‖ N(0, I))."""
        rec, kl = self._elbo_given(batch.x, batch.y, batch.generator)
        loss = (-rec + self.config.beta * kl).mean()
        return {"loss": loss, "rec_nll": -rec.mean().detach(), "kl": kl.mean().detach(),
                "elbo": (rec - kl).mean().detach()}

    def _each_class(self, x: Tensor):
        for c in range(self.n_classes):
            yield torch.full((len(x),), c, dtype=torch.long, device=x.device)

    @torch.no_grad()
    def elbo(self, x: Tensor, *, generator: Optional[torch.Generator] = None,
             y: Optional[Tensor] = None) -> Tensor:
        """Per-example bound (B,) nats (β = 1, one posterior sample): ELBO(x | y) given y, else the bound
        on log p(x) of the module docstring (K conditional ELBOs, weighted by q(y | x))."""
        if y is not None:
            rec, kl = self._elbo_given(x, y, generator)
            return rec - kl
        log_prior = -math.log(self.n_classes)
        det, sampled = [], []
        for yc in self._each_class(x):
            mu, logvar = self.posterior(x, yc)
            kl = LF.kl_std_normal(mu, logvar)
            det.append(self.log_px_zy(x, mu, yc) - kl + log_prior)  # at z = μ: no noise in q(y | x)
            sampled.append(self.log_px_zy(x, self._reparam(mu, logvar, generator), yc) - kl + log_prior)
        log_q = torch.log_softmax(torch.stack(det), 0)  # (K, B): q(y | x)
        return (log_q.exp() * (torch.stack(sampled) - log_q)).sum(0)

    @torch.no_grad()
    def _log_px_given(self, x: Tensor, y: Tensor, k: int, chunk: int, generator) -> Tensor:
        """log p̂_k(x | y), (B,) nats: the importance-weighted estimate with k samples of q(z | x, y)."""
        mu, logvar = self.posterior(x, y)
        terms = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            z = mu + torch.exp(0.5 * logvar) * randn((m, *mu.shape), generator=generator, device=mu.device)
            zf = z.reshape(m * len(x), -1)  # (m, B, L) -> (m*B, L)
            xr = x.unsqueeze(0).expand(m, *x.shape).reshape(m * len(x), *x.shape[1:])  # (m*B, ...)
            log_w = (self.log_px_zy(xr, zf, y.repeat(m)) + LF.log_std_normal(zf)
                     - LF.log_normal(zf, mu.repeat(m, 1), logvar.repeat(m, 1)))
            terms.append(log_w.view(m, len(x)))  # (m*B,) -> (m, B)
        return torch.logsumexp(torch.cat(terms, 0), 0) - math.log(k)  # (k, B) -> (B,)

    @torch.no_grad()
    def nll(self, x: Tensor, *, generator: Optional[torch.Generator] = None, k: int = 100, chunk: int = 50,
            y: Optional[Tensor] = None) -> Tensor:
        """Importance-weighted upper bound on −log p(x | y) (given y) or −log p(x), (B,) nats."""
        if y is not None:
            return -self._log_px_given(x, y, k, chunk, generator)
        per_class = torch.stack([self._log_px_given(x, yc, k, chunk, generator) for yc in self._each_class(x)])
        return -(torch.logsumexp(per_class, 0) - math.log(self.n_classes))  # (K, B) -> (B,)

    # --- sampling -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None,
               cond: Optional[Mapping[str, Tensor]] = None) -> Tensor:
        """z ~ N(0, I), x = decode_given(z, y), y from cond["y"] (n,) or cycling; model space (B, ...)."""
        y = class_labels(n, cond, n_classes=self.n_classes, device=self.device, model="cvae")
        z = randn((n, self.config.latent_dim), generator=generator, device=self.device)
        return self.decode_given(z, y, generator=generator)

    def preview(self, batch: Optional[Batch], *, n: int, generator: Optional[torch.Generator] = None) -> list[Panel]:
        return class_preview(self, n, generator)
