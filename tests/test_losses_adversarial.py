"""Adversarial losses and penalties against hand-computed values (two-sided tolerances)."""
import math

import pytest
import torch

from genlab.losses import adversarial as A
from genlab.losses import regularizers as R
from genlab.metrics.toy import evaluate_toy
from genlab.models.gans import tricks
from genlab.models.gans.began import EquilibriumControl
from genlab.registry import LOSSES

REAL = [0.0, 2.0, -0.5]
FAKE = [-1.0, 1.0, 0.25]


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs)


def t(xs):
    return torch.tensor(xs, dtype=torch.float32)


# D loss: hand formula on D = σ(l) (probabilistic losses) or the raw output
EXPECTED_D = {
    "minimax": -mean(math.log(sig(r)) for r in REAL) - mean(math.log(1 - sig(f)) for f in FAKE),
    "nonsaturating": -mean(math.log(sig(r)) for r in REAL) - mean(math.log(1 - sig(f)) for f in FAKE),
    "dragan": -mean(math.log(sig(r)) for r in REAL) - mean(math.log(1 - sig(f)) for f in FAKE),
    "wgan": -mean(REAL) + mean(FAKE),
    "wgan-gp": -mean(REAL) + mean(FAKE),
    "lsgan": mean((r - 1) ** 2 for r in REAL) + mean(f ** 2 for f in FAKE),
    "hinge": mean(max(0, 1 - r) for r in REAL) + mean(max(0, 1 + f) for f in FAKE),
}
EXPECTED_G = {
    "minimax": mean(math.log(1 - sig(f)) for f in FAKE),
    "nonsaturating": -mean(math.log(sig(f)) for f in FAKE),
    "dragan": -mean(math.log(sig(f)) for f in FAKE),
    "wgan": -mean(FAKE),
    "wgan-gp": -mean(FAKE),
    "lsgan": mean((f - 1) ** 2 for f in FAKE),
    "hinge": -mean(FAKE),
    "began": mean(FAKE),
}


def test_registry_holds_the_eight_losses_with_their_needs():
    assert set(LOSSES) == {"minimax", "nonsaturating", "wgan", "wgan-gp", "lsgan", "dragan", "began", "hinge",
                           "relativistic", "relativistic-average"}
    assert {n for n in LOSSES if LOSSES[n].g_needs_real} == {"relativistic", "relativistic-average"}
    assert LOSSES["wgan"].clip == pytest.approx(0.01) and LOSSES["wgan"].n_critic == 5
    assert LOSSES["wgan-gp"].penalty is R.wgan_gp and LOSSES["wgan-gp"].clip == 0
    assert LOSSES["dragan"].penalty is R.dragan
    assert LOSSES["began"].energy and LOSSES["began"].balance
    assert not any(LOSSES[n].energy for n in LOSSES if n != "began")
    for name in LOSSES:
        assert "L_" in LOSSES[name].d.__doc__ and "L_G" in LOSSES[name].g.__doc__, name


def test_relativistic_losses_match_hand_values():
    """RSGAN on pairs (r_i, f_i); RaGAN against the other kind's mean critic value."""
    pairs = list(zip(REAL, FAKE))
    mr, mf = mean(REAL), mean(FAKE)
    rs_d = mean(-math.log(sig(r - f)) for r, f in pairs)
    rs_g = mean(-math.log(sig(f - r)) for r, f in pairs)
    ra_d = mean(-math.log(sig(r - mf)) for r in REAL) + mean(-math.log(1 - sig(f - mr)) for f in FAKE)
    ra_g = mean(-math.log(sig(f - mr)) for f in FAKE) + mean(-math.log(1 - sig(r - mf)) for r in REAL)
    got = [LOSSES["relativistic"].d(t(REAL), t(FAKE)), LOSSES["relativistic"].g(t(FAKE), t(REAL)),
           LOSSES["relativistic-average"].d(t(REAL), t(FAKE)), LOSSES["relativistic-average"].g(t(FAKE), t(REAL))]
    for g, want in zip(got, [rs_d, rs_g, ra_d, ra_g]):
        assert g.item() == pytest.approx(want, rel=1e-5, abs=1e-6)
    # swapping the roles of real and fake turns the D loss into the G loss
    assert LOSSES["relativistic"].d(t(FAKE), t(REAL)).item() == pytest.approx(rs_g, rel=1e-5)


@pytest.mark.parametrize("name", sorted(EXPECTED_D))
def test_d_loss_matches_hand_value(name):
    got = LOSSES[name].d(t(REAL), t(FAKE))
    assert got.dtype == torch.float32 and got.dim() == 0
    assert got.item() == pytest.approx(EXPECTED_D[name], rel=1e-5, abs=1e-6)


def test_began_d_loss_weights_fake_energy_by_k():
    got = LOSSES["began"].d(t([0.2, 0.4]), t([0.1, 0.3]), k=0.25)
    assert got.item() == pytest.approx(0.3 - 0.25 * 0.2, rel=1e-6)


@pytest.mark.parametrize("name", sorted(EXPECTED_G))
def test_g_loss_matches_hand_value(name):
    got = LOSSES[name].g(t(FAKE).view(3, 1))  # (B, 1) outputs are flattened like (B,)
    assert got.item() == pytest.approx(EXPECTED_G[name], rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", ["minimax", "nonsaturating", "lsgan", "dragan"])
def test_one_sided_label_smoothing_targets_real_label(name):
    got = LOSSES[name].d(t(REAL), t(FAKE), real_label=0.9)
    if name == "lsgan":
        want = mean((r - 0.9) ** 2 for r in REAL) + mean(f ** 2 for f in FAKE)
    else:
        want = (-mean(0.9 * math.log(sig(r)) + 0.1 * math.log(1 - sig(r)) for r in REAL)
                - mean(math.log(1 - sig(f)) for f in FAKE))
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_minimax_saturates_where_nonsaturating_does_not():
    """At D(G(z)) ≈ 0 (logit −10) the MM generator gradient vanishes; the NS one is ≈ −1 per example."""
    grads = {}
    for name in ("minimax", "nonsaturating"):
        logits = torch.full((4,), -10.0, requires_grad=True)
        LOSSES[name].g(logits).backward()
        grads[name] = logits.grad
    assert grads["minimax"].abs().max().item() == pytest.approx(sig(-10) / 4, rel=1e-3)
    assert grads["nonsaturating"].abs().min().item() == pytest.approx(sig(10) / 4, rel=1e-3)
    assert (grads["minimax"] < 0).all() and (grads["nonsaturating"] < 0).all()  # both push D(G(z)) up
    assert grads["nonsaturating"].abs().min() > 1000 * grads["minimax"].abs().max()


def test_losses_compute_in_float32_under_bf16_inputs():
    got = LOSSES["nonsaturating"].d(t(REAL).bfloat16(), t(FAKE).bfloat16())
    assert got.dtype == torch.float32


class Recorder(torch.nn.Module):
    """Linear critic D(x) = Σ w ⊙ x that remembers its inputs: ‖∇D‖ = ‖w‖ everywhere."""

    def __init__(self, shape, scale):
        super().__init__()
        self.w = torch.nn.Parameter(torch.full(shape, scale))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return (x * self.w).flatten(1).sum(1)  # (B, ...) -> (B,)


def test_wgan_gp_uses_one_coefficient_per_example_and_exact_value():
    real, fake = torch.zeros(6, 2, 3, 3), torch.ones(6, 2, 3, 3)
    d = Recorder((2, 3, 3), 0.5)  # ‖w‖ = 0.5 · √18
    pen = R.wgan_gp(d, real, fake, generator=torch.Generator().manual_seed(0))
    assert pen.item() == pytest.approx((0.5 * math.sqrt(18) - 1) ** 2, rel=1e-5)
    points = d.seen[0]  # α·0 + (1 − α)·1 = 1 − α, one α per example
    per_example = points.flatten(1)
    assert torch.allclose(per_example, per_example[:, :1].expand_as(per_example))
    assert per_example[:, 0].unique().numel() == 6  # different α for each example
    assert ((per_example >= 0) & (per_example <= 1)).all()
    pen.backward()
    assert d.w.grad is not None and d.w.grad.abs().sum() > 0  # the penalty trains D


def test_gp_coefficients_come_from_the_generator():
    real = torch.zeros(5, 4)
    a = R.interpolation_coefficients(real, generator=torch.Generator().manual_seed(1))
    b = R.interpolation_coefficients(real, generator=torch.Generator().manual_seed(1))
    assert a.shape == (5, 1) and torch.equal(a, b)


def test_dragan_perturbs_real_data_only_within_half_std():
    real = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
    fake = torch.full((8, 5), 100.0)
    d = Recorder((5,), 0.1)
    pen = R.dragan(d, real, fake, generator=torch.Generator().manual_seed(0))
    assert pen.item() == pytest.approx((0.1 * math.sqrt(5) - 1) ** 2, rel=1e-5)
    delta = d.seen[0] - real
    assert (delta >= 0).all() and (delta <= 0.5 * real.std() + 1e-6).all()
    assert delta.abs().max() > 0.01  # it does perturb


def test_began_k_update_and_m_global():
    k = torch.tensor(0.5)
    e_real, e_fake = t([0.2, 0.4]), t([0.05, 0.15])  # L(x) = 0.3, L(G(z)) = 0.1
    k_next, m = A.began_update(k, e_real, e_fake, gamma=0.5, lambda_k=0.01)
    assert k_next.item() == pytest.approx(0.5 + 0.01 * (0.15 - 0.1), rel=1e-6)
    assert m.item() == pytest.approx(0.3 + 0.05, rel=1e-6)
    hi, _ = A.began_update(torch.tensor(0.99), e_real, e_fake, gamma=0.5, lambda_k=1.0)
    lo, _ = A.began_update(torch.tensor(0.01), e_real, t([0.9, 0.9]), gamma=0.5, lambda_k=1.0)
    assert hi.item() == 1.0 and lo.item() == 0.0


def test_equilibrium_control_updates_its_buffer():
    ctl = EquilibriumControl(gamma=0.5, lambda_k=0.1)
    logs = ctl.update(t([0.4]), t([0.1]))
    assert logs["k"].item() == 0.0  # the k used by this step's D loss
    assert ctl.k.item() == pytest.approx(0.1 * (0.2 - 0.1), rel=1e-6)
    assert "k" in dict(ctl.named_buffers())  # checkpointed with the model


def test_label_flipping_swaps_pairs():
    real, fake = torch.zeros(1000, 2), torch.ones(1000, 2)
    r, f = tricks.flip_labels(real, fake, 0.3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(r + f, real + fake)  # a swap, never a copy
    share = r[:, 0].mean().item()
    assert 0.25 < share < 0.35
    assert torch.equal(r[:, 0], r[:, 1])  # one draw per example
    same = tricks.flip_labels(real, fake, 0.0)
    assert same[0] is real and same[1] is fake


def test_instance_noise_annealing():
    assert tricks.noise_std(0, 0.2, 100) == pytest.approx(0.2)
    assert tricks.noise_std(50, 0.2, 100) == pytest.approx(0.1)
    assert tricks.noise_std(150, 0.2, 100) == 0.0
    assert tricks.noise_std(10_000, 0.2, 0) == pytest.approx(0.2)
    x = torch.zeros(2000)
    y = tricks.instance_noise(x, 0.5, generator=torch.Generator().manual_seed(0))
    assert 0.45 < y.std().item() < 0.55


def test_evaluate_toy_counts_modes_and_high_quality():
    centres = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    x = torch.tensor([[0.0, 0.02], [2.0, -0.029], [0.0, 0.5], [float("nan"), 0.0]])
    res = evaluate_toy(x, centres, 0.01)
    assert res == {"modes_covered": 2, "modes_total": 3, "hq_fraction": pytest.approx(0.5)}
    exact = evaluate_toy(centres.repeat(4, 1), centres, 0.01)
    assert exact["modes_covered"] == 3 and exact["hq_fraction"] == 1.0
