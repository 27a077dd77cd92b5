"""Flow property tests: exact inverses, log-determinants against the autograd Jacobian, the full
density (logit preprocessing included), normalisation on a 2-D grid, and the bits/dim converter."""
import math

import pytest
import torch

from genlab.metrics.likelihood import bits_per_dim
from genlab.models.base import DataInfo
from genlab.models.flows.glow import Glow, GlowConfig
from genlab.models.flows.layers import ActNorm, AffineCoupling, InvConv1x1, Squeeze
from genlab.models.flows.realnvp import RealNVP, RealNVPConfig


def perturb(module, scale=0.3, seed=0):
    """Move every parameter off its (often identity) initialisation so the checks are not trivial."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return module


def layers():
    torch.manual_seed(0)
    act = ActNorm(2)
    act.train()
    act(torch.randn(16, 2, 4, 4) * 3 + 1)  # data-dependent initialisation
    return {
        "squeeze": Squeeze(),
        "actnorm": perturb(act),
        "invconv": perturb(InvConv1x1(2, lu=False), 0.1),
        "invconv_lu": perturb(InvConv1x1(2, lu=True), 0.1),
        "coupling_checker0": perturb(AffineCoupling(2, 8, mask="checkerboard", parity=0)),
        "coupling_checker1": perturb(AffineCoupling(2, 8, mask="checkerboard", parity=1)),
        "coupling_channel0": perturb(AffineCoupling(2, 8, mask="channel", parity=0)),
        "coupling_channel1": perturb(AffineCoupling(2, 8, mask="channel", parity=1)),
    }


LAYERS = list(layers())


@pytest.mark.parametrize("name", LAYERS)
def test_layer_inverse(name):
    layer = layers()[name].eval()
    x = torch.randn(3, 2, 4, 4, generator=torch.Generator().manual_seed(1))
    y, _ = layer(x)
    assert torch.allclose(layer.inverse(y), x, atol=1e-5)
    assert not (name != "squeeze" and torch.allclose(y, x, atol=1e-3)), f"{name} is an identity"


@pytest.mark.parametrize("name", LAYERS)
def test_layer_logdet_matches_autograd_jacobian(name):
    layer = layers()[name].eval()
    x = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(2))
    jac = torch.autograd.functional.jacobian(lambda v: layer(v.view(1, 2, 4, 4))[0].reshape(-1), x.reshape(-1))
    _, logabsdet = torch.linalg.slogdet(jac.double())
    assert abs(layer(x)[1].item() - logabsdet.item()) < 1e-3


def test_actnorm_data_dependent_init():
    act = ActNorm(3).train()
    x = torch.randn(64, 3, 5, 5, generator=torch.Generator().manual_seed(0)) * torch.tensor([1.0, 4.0, 0.5]).view(1, 3, 1, 1) + 2
    y, _ = act(x)
    assert act.initialized.item() == 1
    assert torch.allclose(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(y.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3)
    before = act.bias.detach().clone()
    act(x * 10)  # initialised once only
    assert torch.equal(before, act.bias.detach())


def flow_models():
    torch.manual_seed(0)
    return {
        "realnvp": perturb(RealNVP(RealNVPConfig(hidden=8, couplings=1), DataInfo((1, 4, 4), 17)), 0.05),
        "glow": perturb(Glow(GlowConfig(hidden=8, steps=2, scales=2), DataInfo((1, 4, 4), 17)), 0.05),
        "glow_nolu": perturb(Glow(GlowConfig(hidden=8, steps=2, scales=1, lu=False), DataInfo((1, 4, 4), 17)), 0.05),
    }


@pytest.mark.parametrize("name", ["realnvp", "glow", "glow_nolu"])
def test_model_density_is_change_of_variables(name):
    """log p(y) = Σ log N(z_s) + log|det ∂z/∂y|, computed here by autograd through preprocess + flow."""
    model = flow_models()[name].eval()
    y = torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(3)) * 0.9 + 0.05

    def f(v):
        w, _ = model._pre(v.view(1, 1, 4, 4))
        return model._flatten(model.flow(w)[0]).reshape(-1)

    jac = torch.autograd.functional.jacobian(f, y.reshape(-1))
    z = f(y.reshape(-1)).double()
    expected = -0.5 * (z.pow(2).sum() + z.numel() * math.log(2 * math.pi)) + torch.linalg.slogdet(jac.double())[1]
    assert abs(model.log_density(y).item() - expected.item()) < 2e-3
    x = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(model.decode(model.encode(x)), x, atol=1e-4)


def test_vector_flow_density_integrates_to_one():
    torch.manual_seed(0)
    model = perturb(Glow(GlowConfig(hidden=8, steps=3), DataInfo((2,))), 0.1).eval()
    g = torch.linspace(-9, 9, 361)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    mass = torch.exp(-model.nll(pts)).sum().item() * (g[1] - g[0]).item() ** 2
    assert 0.98 < mass < 1.02


def test_temperature_scales_latents():
    model = RealNVP(RealNVPConfig(hidden=8, couplings=1), DataInfo((1, 8, 8), 17)).eval()
    z = model.sample_latent(500, generator=torch.Generator().manual_seed(0), temperature=0.5)
    assert 0.47 < z.std().item() < 0.53
    x = model.sample(3, generator=torch.Generator().manual_seed(0), temperature=0.7)
    assert x.shape == (3, 1, 8, 8) and 0 <= x.min() and x.max() <= 1


def test_variational_dequantisation_bound_is_discrete_nats():
    model = Glow(GlowConfig(hidden=8, steps=2, dequantization="variational"), DataInfo((1, 4, 4), 17)).eval()
    assert model.nll_convention == "discrete"
    x = torch.randint(0, 17, (4, 1, 4, 4), generator=torch.Generator().manual_seed(0)).float() / 16
    nll = model.nll(x, generator=torch.Generator().manual_seed(1))
    assert nll.shape == (4,) and torch.isfinite(nll).all() and (nll > 0).all()  # −log P(k) ≥ 0


def test_bits_per_dim_by_hand():
    # continuous, 17 levels, D = 64, NLL = −41.2726 nats: (−41.2726 + 64·ln 17)/(64·ln 2)
    # = (−41.2726 + 181.32563)/44.36142 = 3.15711
    assert abs(bits_per_dim(-41.2726, 64, "continuous", 17) - 3.15711) < 1e-4
    # continuous, 256 levels, density 1 on [0,1]^D (NLL 0): exactly 8 bits/dim
    assert abs(bits_per_dim(0.0, 784, "continuous", 256) - 8.0) < 1e-9
    # discrete, uniform over 17 levels: NLL = D ln 17 -> log2 17 = 4.08746
    assert abs(bits_per_dim(64 * math.log(17), 64, "discrete", 17) - 4.08746) < 1e-4
    # continuous data without levels (toys): differential bits/dim, 2.0 nats over 2 dims = 1/ln 2
    assert abs(bits_per_dim(2.0, 2, "continuous", None) - 1.442695) < 1e-5
