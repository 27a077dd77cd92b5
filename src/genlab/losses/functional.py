"""Log-likelihoods and divergences used by likelihood models. Pure functions; per-example results
summed over data dimensions, shape (B,), in nats, computed in float32."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def _sum(x: Tensor) -> Tensor:
    return x.flatten(1).sum(1)  # (B, ...) -> (B,)


def kl_std_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) = ½ Σ (μ² + σ² − 1 − log σ²)."""
    mu, logvar = mu.float(), logvar.float()
    return 0.5 * _sum(mu.pow(2) + logvar.exp() - 1.0 - logvar)


def log_normal(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; μ, diag σ²) = −½ Σ (log 2π + log σ² + (z − μ)² / σ²)."""
    z, mu, logvar = z.float(), mu.float(), logvar.float()
    return -0.5 * _sum(LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))


def log_std_normal(z: Tensor) -> Tensor:
    """log N(z; 0, I)."""
    z = z.float()
    return -0.5 * _sum(LOG_2PI + z.pow(2))


def bernoulli_log_prob(logits: Tensor, x: Tensor) -> Tensor:
    """Σ x log σ(l) + (1 − x) log(1 − σ(l)); a proper likelihood only for binary x."""
    return -_sum(F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="none"))


def gaussian_log_prob(mean: Tensor, log_sigma: Tensor, x: Tensor) -> Tensor:
    """log N(x; mean, σ²) summed over dimensions (a density on continuous x)."""
    mean, log_sigma, x = mean.float(), log_sigma.float(), x.float()
    return -_sum(0.5 * LOG_2PI + log_sigma + 0.5 * ((x - mean) * torch.exp(-log_sigma)).pow(2))


def discretized_logistic_log_prob(mean: Tensor, log_scale: Tensor, x: Tensor, levels: int) -> Tensor:
    """Exact log-probability of quantised data under a discretised logistic (Salimans et al. 2017).

    x holds levels k/(L−1), k = 0..L−1, in [0, 1]; it is mapped to y = 2x − 1 in [−1, 1], where the bins
    have half-width h = 1/(L−1). With s = exp(log_scale):
        P(y) = σ((y + h − μ)/s) − σ((y − h − μ)/s),
    with the lowest bin extended to −∞ and the highest to +∞, so the masses sum to one.
    """
    mean, log_scale, x = mean.float(), log_scale.float().clamp(min=-7.0), x.float()
    y = 2 * x - 1
    h = 1.0 / (levels - 1)
    inv_s = torch.exp(-log_scale)
    plus, minus = inv_s * (y - mean + h), inv_s * (y - mean - h)
    log_cdf_plus = F.logsigmoid(plus)  # log σ(plus): the lowest bin's mass
    log_one_minus_cdf_minus = -F.softplus(minus)  # log(1 − σ(minus)): the highest bin's mass
    cdf_delta = torch.sigmoid(plus) - torch.sigmoid(minus)
    # where the bin mass underflows float32, use density at the bin centre times the bin width 2h
    centre = inv_s * (y - mean)
    log_pdf_mid = centre - log_scale - 2 * F.softplus(centre) + math.log(2 * h)
    mid = torch.where(cdf_delta > 1e-5, torch.log(cdf_delta.clamp(min=1e-12)), log_pdf_mid)
    out = torch.where(y < -1 + h / 2, log_cdf_plus, torch.where(y > 1 - h / 2, log_one_minus_cdf_minus, mid))
    return _sum(out)
