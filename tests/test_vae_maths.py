"""Closed forms behind the VAE: KL, Gaussian log-density, the discretised logistic, IWAE >= ELBO."""
import math

import pytest
import torch

from genlab.losses import functional as LF
from genlab.metrics.likelihood import bits_per_dim

from helpers import tiny_trainer


def test_kl_matches_closed_form_and_torch_distributions():
    mu = torch.tensor([[0.3, -1.2]])
    logvar = torch.tensor([[0.5, -0.7]])
    by_hand = 0.5 * sum(m * m + math.exp(lv) - 1 - lv for m, lv in zip(mu[0].tolist(), logvar[0].tolist()))
    assert LF.kl_std_normal(mu, logvar).item() == pytest.approx(by_hand, rel=1e-6)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    assert LF.kl_std_normal(mu, logvar).item() == pytest.approx(
        torch.distributions.kl_divergence(q, p).sum().item(), rel=1e-6)
    assert LF.kl_std_normal(torch.zeros(1, 3), torch.zeros(1, 3)).item() == 0.0


def test_log_normal_matches_torch():
    z, mu, logvar = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    ref = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(1)
    assert torch.allclose(LF.log_normal(z, mu, logvar), ref, atol=1e-5)
    assert torch.allclose(LF.log_std_normal(z), torch.distributions.Normal(0, 1).log_prob(z).sum(1), atol=1e-5)


@pytest.mark.parametrize("levels", [256, 17, 2])
def test_discretized_logistic_is_a_distribution(levels):
    k = torch.arange(levels, dtype=torch.float32)
    x = (k / (levels - 1)).view(1, levels)  # every level once, as D dimensions of one example
    for mean, log_scale in [(0.1, -2.0), (-0.8, -4.0), (0.95, 0.5)]:
        m, s = torch.full_like(x, mean), torch.full_like(x, log_scale)
        per_level = torch.stack([LF.discretized_logistic_log_prob(m[:, i:i + 1], s[:, i:i + 1], x[:, i:i + 1],
                                                                  levels) for i in range(levels)])
        assert per_level.exp().sum().item() == pytest.approx(1.0, abs=2e-3)


def test_discretized_logistic_hand_value():
    # levels=3: bins centred at -1, 0, 1 (half-width 0.5); middle bin mass = σ(0.5/s) − σ(−0.5/s) for μ=0
    s = 0.7
    want = math.log(1 / (1 + math.exp(-0.5 / s)) - 1 / (1 + math.exp(0.5 / s)))
    got = LF.discretized_logistic_log_prob(torch.zeros(1, 1), torch.full((1, 1), math.log(s)),
                                           torch.full((1, 1), 0.5), 3)
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_bits_per_dim_conventions():
    assert bits_per_dim(784 * math.log(2) * 3.0, 784, "discrete") == pytest.approx(3.0)
    # continuous density on (k+u)/256: add D ln 256 nats before converting
    assert bits_per_dim(-784 * 5 * math.log(2), 784, "continuous", 256) == pytest.approx(8.0 - 5.0)
    assert bits_per_dim(1.0, 10, "bernoulli") is None


def test_iwae_bound_is_tighter_than_elbo_and_improves_with_k():
    tr = tiny_trainer("vae", steps=30)
    tr.fit()
    m = tr.model.eval()
    x = tr.data.get(slice(0, 64))
    g = torch.Generator().manual_seed(0)
    elbo = torch.stack([m.elbo(x, generator=g) for _ in range(20)]).mean(0)  # averaged ELBO per example
    nll1 = m.nll(x, generator=g, k=1).mean()
    nll50 = m.nll(x, generator=g, k=50).mean()
    assert nll50 < -elbo.mean() and nll50 < nll1
    assert abs(nll1 + elbo.mean()) < 0.05 * abs(elbo.mean())  # k=1 is the ELBO (up to noise)
