"""Multi-scale flow with factor-out, dequantisation and preprocessing, shared by RealNVP and Glow.

Density of dequantised data y ∈ [0, 1]^D (Dinh et al. 2017, §4.1; Kingma & Dhariwal 2018):
    y = (k + u)/L,  u ~ U[0, 1)^D  (uniform)  or  u ~ q(u|k)  (variational, Ho et al. 2019),
    w = logit(α + (1 − 2α) y)                        (preprocess='logit', log-Jacobian included)
    (z_1, ..., z_S) = f(w)                             (squeeze / steps / factor-out per scale)
    log p(y) = Σ_s log N(z_s; 0, I) + log|det ∂f/∂w| + Σ_d [log(1 − 2α) − log s_d − log(1 − s_d)],
with s = α + (1 − 2α) y. Uniform dequantisation gives a density on [0, 1]-scaled data (likelihood
convention 'continuous': bits/dim = (NLL + D ln L)/(D ln 2) bounds the discrete bits/dim). Variational
dequantisation returns the bound −log P(k) ≤ E_q[−log p((k + u)/L) + log q(u|k)] + D ln L directly
(convention 'discrete', a stochastic upper bound). Vectors (toys) use no dequantisation/preprocessing, and
neither do physical fields (unbounded float data in the normaliser's standardised units: the density is
that of the standardised field, w = x, no logit and no clamp).
Sampling: z_s ~ N(0, T² I) (temperature T), then the inverse of every map.
"""
from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import GenlabError
from ...losses import functional as LF
from ..base import Batch, DataInfo, GenerativeModel, Phase, rand, randn
from .layers import ActNorm, FlowLayer, InvConv1x1, actnorm_invconv, coupling_net


class MultiScaleFlow(nn.Module):
    """Scales of invertible layers; after every scale but the last, half the channels are factored
    out as a latent (z_s = h[:, :C//2]) and the rest continues to the next scale."""

    def __init__(self, scales: list[list[FlowLayer]]):
        super().__init__()
        self.scales = nn.ModuleList([nn.ModuleList(s) for s in scales])

    @staticmethod
    def _plan(scale: nn.ModuleList) -> list[tuple]:
        """The forward's calls: an ActNorm directly followed by an InvConv1x1 (Glow) runs as one fused
        affine map (`actnorm_invconv`); every other layer runs on its own."""
        plan, i = [], 0
        while i < len(scale):
            if isinstance(scale[i], ActNorm) and i + 1 < len(scale) and isinstance(scale[i + 1], InvConv1x1):
                plan.append((scale[i], scale[i + 1]))
                i += 2
            else:
                plan.append((scale[i],))
                i += 1
        return plan

    def forward(self, x: Tensor) -> tuple[list[Tensor], Tensor]:
        zs, logdet = [], None
        h = x
        for k, scale in enumerate(self.scales):
            for call in self._plan(scale):
                h, ld = actnorm_invconv(call[0], call[1], h) if len(call) == 2 else call[0](h)
                logdet = ld if logdet is None else logdet + ld
            if k < len(self.scales) - 1:
                c = h.shape[1] // 2
                zs.append(h[:, :c])  # factor out (B, C/2, H, W)
                h = h[:, c:]
        zs.append(h)
        return zs, logdet

    def inverse(self, zs: list[Tensor]) -> Tensor:
        h = zs[-1]
        for k in reversed(range(len(self.scales))):
            if k < len(self.scales) - 1:
                h = torch.cat([zs[k], h], 1)  # (B, C, H, W): put the factored-out half back
            for layer in reversed(self.scales[k]):
                h = layer.inverse(h)
        return h


class FlowModel(GenerativeModel):
    """Base of `realnvp` and `glow`: subclasses implement `build_scales(c, h, w) -> list of scales`
    and say whether each scale starts with a squeeze (`squeezes(k)`), for the latent shapes."""

    train_defaults: ClassVar[dict] = {"lr": 1e-3, "grad_clip": 100.0}
    provides = frozenset({"nll", "encode", "decode", "sample_latent"})

    def __init__(self, config, data: DataInfo):
        super().__init__(config, data)
        self.vector = not data.is_image
        c, h, w = (data.shape[0], 1, 1) if self.vector else data.shape
        if self.vector and c < 2:
            raise GenlabError(f"{type(self).__name__.lower()} needs at least 2 dimensions (got {c}); use "
                              "kde or gmm for 1-D data")
        self.quantised = bool(data.levels) and not self.vector
        self.field = not self.vector and not data.bounded  # physical field: continuous, unbounded, standardised
        if config.dequantization == "variational" and not self.quantised:
            raise GenlabError("model.dequantization=variational needs quantised images; use uniform")
        self.flow = MultiScaleFlow(self.build_scales(c, h, w))
        self.latent_shapes = self._latent_shapes(c, h, w)
        self.dequantizer = None
        if config.dequantization == "variational":
            self.dequantizer = coupling_net(c, 2 * c, config.hidden // 2 or 1, 3)

    def build_scales(self, c: int, h: int, w: int) -> list[list[FlowLayer]]:  # pragma: no cover
        raise TypeError(f"{type(self).__name__} must define build_scales")

    def squeezes(self, k: int) -> bool:  # pragma: no cover
        raise TypeError(f"{type(self).__name__} must define squeezes")

    def _latent_shapes(self, c: int, h: int, w: int) -> list[tuple[int, int, int]]:
        shapes = []
        n = len(self.flow.scales)
        for k in range(n):
            if self.squeezes(k):
                c, h, w = 4 * c, h // 2, w // 2
            if k < n - 1:
                shapes.append((c // 2, h, w))
                c = c - c // 2
        return shapes + [(c, h, w)]

    def networks(self):
        nets = {"flow": self.flow}
        if self.dequantizer is not None:
            nets["dequantizer"] = self.dequantizer
        return nets

    def phases(self, step: int) -> list[Phase]:
        return [Phase("model", self.loss)]

    @property
    def nll_convention(self) -> str:
        """'continuous' (uniform dequantisation / toys) or 'discrete' (variational bound on −log P(k))."""
        return "discrete" if self.dequantizer is not None else "continuous"

    # --- preprocessing ------------------------------------------------------------------------
    def _pre(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """Data y -> flow input w and log|dw/dy| (B,)."""
        if self.vector:
            return y.float().view(len(y), -1, 1, 1), y.new_zeros(len(y))  # (B, D) -> (B, D, 1, 1)
        if self.field:
            return y.float(), y.new_zeros(len(y))
        if self.config.preprocess == "none":
            return y.float() - 0.5, y.new_zeros(len(y))
        a = self.config.alpha
        s = y.float() * (1 - 2 * a) + a
        log_s, log_1ms = torch.log(s), torch.log1p(-s)
        w = log_s - log_1ms
        logdet = math.log(1 - 2 * a) * s[0].numel() - (log_s + log_1ms).flatten(1).sum(1)
        return w, logdet

    def _post(self, w: Tensor) -> Tensor:
        if self.vector:
            return w.reshape(len(w), -1)  # (B, D, 1, 1) -> (B, D)
        if self.field:
            return w
        if self.config.preprocess == "none":
            return (w + 0.5).clamp(0, 1)
        a = self.config.alpha
        return ((torch.sigmoid(w) - a) / (1 - 2 * a)).clamp(0, 1)

    # --- densities ----------------------------------------------------------------------------
    def log_density(self, y: Tensor) -> Tensor:
        """log p(y) (B,) nats for dequantised data y in [0, 1] (or vectors), Jacobians included."""
        w, ld_pre = self._pre(y)
        zs, ld_flow = self.flow(w)
        log_pz = sum(LF.log_std_normal(z) for z in zs)
        return log_pz + ld_flow + ld_pre

    def _dequantize(self, x: Tensor, generator) -> tuple[Tensor, Tensor]:
        """(y, log q(u|x)) with y = (k + u)/L; log q = 0 for uniform noise."""
        levels = self.data.levels
        k = torch.round(x.float() * (levels - 1))
        if self.dequantizer is None:
            return (k + rand(x.shape, generator=generator, device=x.device)) / levels, x.new_zeros(len(x))
        mu, log_sigma = self.dequantizer(2 * x - 1).float().chunk(2, 1)  # 2 x (B, C, H, W)
        eps = randn(x.shape, generator=generator, device=x.device)
        a = mu + torch.exp(log_sigma) * eps
        u = torch.sigmoid(a)
        # log q(u) = log N(ε) − log σ − log σ'(a), with log σ'(a) = −softplus(−a) − softplus(a)
        log_q = LF.log_std_normal(eps) - (log_sigma - F.softplus(-a) - F.softplus(a)).flatten(1).sum(1)
        return (k + u) / levels, log_q

    def _bound(self, x: Tensor, generator) -> Tensor:
        """Per-example loss in nats: −log p(y) (+ log q(u|x) + D ln L for variational dequantisation)."""
        if not self.quantised:
            return -self.log_density(x)
        y, log_q = self._dequantize(x, generator)
        nll = -self.log_density(y)
        if self.dequantizer is not None:
            nll = nll + log_q + self.data.dims * math.log(self.data.levels)
        return nll

    def loss(self, batch: Batch) -> dict:
        """Mean −log p over the batch (the maximum-likelihood objective), nats per example."""
        nll = self._bound(batch.x, batch.generator)
        return {"loss": nll.mean(), "nll_nats": nll.mean().detach()}

    @torch.no_grad()
    def nll(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """(B,) nats: −log p(x) of already dequantised x (uniform / toys), or the variational bound on
        −log P(k) of quantised x (see `nll_convention`)."""
        if self.dequantizer is not None:
            return self._bound(x, generator)
        return -self.log_density(x)

    # --- latents and sampling -----------------------------------------------------------------
    def _flatten(self, zs: list[Tensor]) -> Tensor:
        return torch.cat([z.reshape(len(z), -1) for z in zs], 1)  # (B, D)

    def _unflatten(self, z: Tensor) -> list[Tensor]:
        out, i = [], 0
        for c, h, w in self.latent_shapes:
            out.append(z[:, i:i + c * h * w].reshape(len(z), c, h, w))  # (B, c, h, w)
            i += c * h * w
        return out

    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        """z = f(preprocess(x)), flattened (B, D); exact inverse of `decode` (x taken as-is)."""
        w, _ = self._pre(x.clamp(0, 1) if not (self.vector or self.field) else x)
        return self._flatten(self.flow(w)[0])

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        return self._post(self.flow.inverse(self._unflatten(z.float())))

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None,
                      temperature: float | None = None) -> Tensor:
        t = self.config.temperature if temperature is None else temperature
        return t * randn((n, self.data.dims), generator=generator, device=self.device)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None,
               temperature: float | None = None) -> Tensor:
        """x = f⁻¹(z), z ~ N(0, T² I) (T = model.temperature unless given); images in [0, 1]."""
        x = self.decode(self.sample_latent(n, generator=generator, temperature=temperature))
        return x.view(n, *self.data.shape)
