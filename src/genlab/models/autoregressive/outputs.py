"""Per-pixel output distributions for autoregressive image models, over `levels` quantised values.

Data x hold levels k/(L−1), k = 0..L−1 (L = 256 for 8-bit images, 17 for scikit-learn digits).

- `CategoricalHead`: an L-way softmax per channel: log P(x) = Σ_d log softmax(l_d)[k_d] (exact).
- `LogisticMixtureHead` (Salimans et al. 2017, PixelCNN++): per channel a K-component mixture of
  logistics on y = 2x − 1 ∈ [−1, 1], discretised into L bins of half-width h = 1/(L−1):
      P(k) = Σ_m π_m [σ((y + h − μ_m)/s_m) − σ((y − h − μ_m)/s_m)],
  with the end bins extended to ±∞ so the masses sum to one (exact discrete likelihood).
Both return per-example log-probabilities (B,) in nats, computed in float32, and sample a pixel from
uniform draws u (so every random number comes from the caller's generator).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def to_index(x: Tensor, levels: int) -> Tensor:
    """[0, 1] data -> integer levels k (long)."""
    return torch.round(x.float() * (levels - 1)).clamp(0, levels - 1).long()


class CategoricalHead:
    """L-way categorical per channel; the network emits C·L channels (channel-major)."""

    def __init__(self, channels: int, levels: int):
        self.c, self.levels = channels, levels
        self.out_channels = channels * levels
        self.uniforms = 1  # uniform draws per channel per pixel

    def _logits(self, out: Tensor) -> Tensor:
        b, _, h, w = out.shape
        return out.float().view(b, self.c, self.levels, h, w)  # (B, C, L, H, W)

    def log_prob_map(self, out: Tensor, x: Tensor) -> Tensor:
        """log P per channel and pixel, (B, C, H, W)."""
        logp = F.log_softmax(self._logits(out), dim=2)
        return logp.gather(2, to_index(x, self.levels).unsqueeze(2)).squeeze(2)  # (B, C, H, W)

    def sample_pixel(self, out: Tensor, u: Tensor) -> Tensor:
        """out: (B, C·L) at one pixel; u: (B, C, 1) uniforms -> values in [0, 1], (B, C)."""
        probs = torch.softmax(out.float().view(len(out), self.c, self.levels), dim=2)  # (B, C, L)
        cdf = probs.cumsum(2)
        k = (cdf < u[..., :1] * cdf[..., -1:]).sum(2).clamp(max=self.levels - 1)  # inverse CDF, (B, C)
        return k.float() / (self.levels - 1)


class LogisticMixtureHead:
    """K-component discretised logistic mixture per channel; emits C·3K channels (logits, μ, log s)."""

    def __init__(self, channels: int, levels: int, mixtures: int):
        self.c, self.levels, self.k = channels, levels, mixtures
        self.out_channels = channels * 3 * mixtures
        self.uniforms = 2

    def _params(self, out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b = out.shape[0]
        p = out.float().view(b, self.c, 3, self.k, *out.shape[2:])  # (B, C, 3, K, ...)
        return p[:, :, 0], torch.tanh(p[:, :, 1]), p[:, :, 2].clamp(min=-7.0)

    def log_prob_map(self, out: Tensor, x: Tensor) -> Tensor:
        logit_pi, mu, log_s = self._params(out)  # (B, C, K, H, W) each
        y = (2 * x.float() - 1).unsqueeze(2)  # (B, C, 1, H, W)
        h = 1.0 / (self.levels - 1)
        inv_s = torch.exp(-log_s)
        plus, minus = inv_s * (y - mu + h), inv_s * (y - mu - h)
        log_cdf_plus = F.logsigmoid(plus)  # lowest bin: P(Y <= y + h)
        log_sf_minus = -F.softplus(minus)  # highest bin: P(Y > y − h)
        delta = torch.sigmoid(plus) - torch.sigmoid(minus)
        centre = inv_s * (y - mu)
        log_mid_pdf = centre - log_s - 2 * F.softplus(centre) + math.log(2 * h)  # underflow fallback
        mid = torch.where(delta > 1e-5, torch.log(delta.clamp(min=1e-12)), log_mid_pdf)
        log_p = torch.where(y < -1 + h / 2, log_cdf_plus, torch.where(y > 1 - h / 2, log_sf_minus, mid))
        return torch.logsumexp(log_p + F.log_softmax(logit_pi, dim=2), dim=2)  # (B, C, H, W)

    def sample_pixel(self, out: Tensor, u: Tensor) -> Tensor:
        """out: (B, C·3K) at one pixel; u: (B, C, 2) uniforms -> values in [0, 1], (B, C)."""
        logit_pi, mu, log_s = self._params(out)  # (B, C, K) each
        cdf = torch.softmax(logit_pi, dim=2).cumsum(2)
        m = (cdf < u[..., :1] * cdf[..., -1:]).sum(2, keepdim=True).clamp(max=self.k - 1)  # (B, C, 1)
        mu_m, s_m = mu.gather(2, m).squeeze(2), torch.exp(log_s.gather(2, m).squeeze(2))
        v = u[..., 1].clamp(1e-5, 1 - 1e-5)
        y = mu_m + s_m * (torch.log(v) - torch.log1p(-v))  # logistic inverse CDF
        k = torch.round((y.clamp(-1, 1) + 1) / 2 * (self.levels - 1))  # nearest bin = discretised draw
        return k / (self.levels - 1)
