"""Flow property tests: exact inverses, log-determinants against the autograd Jacobian, the full
density (logit preprocessing included), normalisation on a 2-D grid, and the bits/dim converter."""
import math

import pytest
import torch

from genlab.errors import GenlabError
from genlab.metrics.likelihood import bits_per_dim
from genlab.models.base import DataInfo
from genlab.models.flows.glow import Glow, GlowConfig
from genlab.models.flows.layers import (
    ActNorm,
    AffineCoupling,
    AffineTransform,
    InvConv1x1,
    Squeeze,
    actnorm_invconv,
)
from genlab.models.flows.realnvp import RealNVP, RealNVPConfig


def perturb(module, scale=0.3, seed=0):
    """Move every parameter off its (often identity) initialisation so the checks are not trivial."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return module


class ActNormInvConv(torch.nn.Module):
    """The fused Glow pair (`actnorm_invconv`) as a layer, so it goes through the same checks."""

    def __init__(self, act, conv):
        super().__init__()
        self.act, self.conv = act, conv

    def forward(self, x):
        return actnorm_invconv(self.act, self.conv, x)

    def inverse(self, y):
        return self.act.inverse(self.conv.inverse(y))


def initialised_actnorm(c=2):
    act = ActNorm(c).train()
    act(torch.randn(16, c, 4, 4) * 3 + 1)  # data-dependent initialisation
    return act


def layers():
    torch.manual_seed(0)
    return {
        "squeeze": Squeeze(),
        "actnorm": perturb(initialised_actnorm()),
        "invconv": perturb(InvConv1x1(2, lu=False), 0.1),
        "invconv_lu": perturb(InvConv1x1(2, lu=True), 0.1),
        "actnorm_invconv_lu": perturb(ActNormInvConv(initialised_actnorm(), InvConv1x1(2, lu=True)), 0.1),
        "actnorm_invconv": perturb(ActNormInvConv(initialised_actnorm(), InvConv1x1(2, lu=False)), 0.1),
        "coupling_checker0": perturb(AffineCoupling(2, 8, mask="checkerboard", parity=0)),
        "coupling_checker1": perturb(AffineCoupling(2, 8, mask="checkerboard", parity=1)),
        "coupling_packed0": perturb(AffineCoupling(2, 8, mask="packed", parity=0)),
        "coupling_packed1": perturb(AffineCoupling(2, 8, mask="packed", parity=1)),
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


@pytest.mark.parametrize("parity", [0, 1])
def test_packed_checkerboard_changes_the_same_pixels_and_packs_the_network_input(parity):
    """mask='packed' transforms exactly the pixels with (i + j) % 2 == parity, keeps the others, and its
    network sees the kept pixels as a (C, H, W/2) image."""
    layer = perturb(AffineCoupling(2, 8, mask="packed", parity=parity)).eval()
    seen = []
    layer.net[0].register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape))
    x = torch.randn(3, 2, 4, 6, generator=torch.Generator().manual_seed(5))
    y, _ = layer(x)
    assert seen == [torch.Size([3, 2, 4, 3])]
    ii, jj = torch.meshgrid(torch.arange(4), torch.arange(6), indexing="ij")
    change = ((ii + jj) % 2 == parity).expand_as(x)
    assert torch.equal(y[~change], x[~change])
    assert (y[change] - x[change]).abs().min() > 0
    masked = AffineCoupling(2, 8, mask="checkerboard", parity=parity)
    assert masked._checkerboard(x)[0].bool().expand_as(x).equal(change)


def test_packed_checkerboard_rejects_odd_widths():
    with pytest.raises(ValueError, match="even image width"):
        AffineCoupling(1, 4, mask="packed", parity=0)(torch.randn(1, 1, 4, 5))
    with pytest.raises(GenlabError, match="model.checkerboard=masked"):
        RealNVP(RealNVPConfig(hidden=4, scales=3, checkerboard="packed"), DataInfo((1, 28, 28), 256))
    with pytest.raises(ValueError, match="model.checkerboard"):
        RealNVPConfig(checkerboard="diagonal")


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


@pytest.mark.parametrize("lu", [True, False])
def test_fused_actnorm_invconv_equals_the_two_layers(lu):
    torch.manual_seed(0)
    act, conv = perturb(initialised_actnorm(3)), perturb(InvConv1x1(3, lu=lu), 0.2)
    x = torch.randn(4, 3, 5, 6, generator=torch.Generator().manual_seed(5))
    h, ld1 = act(x)
    y_ref, ld2 = conv(h)
    y, ld = actnorm_invconv(act, conv, x)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ld, ld1 + ld2, atol=1e-4, rtol=1e-6)
    assert ld.shape == (4,) and y.dtype == torch.float32


def test_fused_actnorm_invconv_initialises_the_actnorm():
    act, conv = ActNorm(2).train(), InvConv1x1(2)
    x = torch.randn(64, 2, 4, 4, generator=torch.Generator().manual_seed(0)) * 3 + 1
    actnorm_invconv(act, conv, x)
    assert act.initialized.item() == 1
    h, _ = act(x)
    torch.testing.assert_close(h.mean(dim=(0, 2, 3)), torch.zeros(2), atol=1e-4, rtol=0)
    torch.testing.assert_close(h.std(dim=(0, 2, 3), unbiased=False), torch.ones(2), atol=1e-3, rtol=0)


def test_actnorm_reinitialises_after_loading_an_uninitialised_state():
    act = initialised_actnorm()
    act.load_state_dict(ActNorm(2).state_dict())  # initialized = 0 again
    x = torch.randn(32, 2, 3, 3, generator=torch.Generator().manual_seed(1)) * 5 - 2
    y, _ = act.train()(x)
    assert act.initialized.item() == 1
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(2), atol=1e-4, rtol=0)


@pytest.mark.parametrize("masked", [False, True])
def test_affine_transform_backward_matches_finite_differences(masked):
    """The hand-written backward of the fused coupling maths, for every input, in float64."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    st = torch.randn(2, 6, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    scale = (torch.rand(1, 3, 1, 1, generator=g, dtype=torch.float64) + 0.5).requires_grad_()
    mask = (torch.rand(1, 1, 4, 4, generator=g) > 0.5).double() if masked else None

    def f(x, st, scale):
        y, ld = AffineTransform.apply(x, st, scale, mask)
        return y.double(), ld.double()

    assert torch.autograd.gradcheck(f, (x, st, scale), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_affine_transform_values_and_bf16_network_output():
    g = torch.Generator().manual_seed(0)
    x, st = torch.randn(3, 2, 5, 5, generator=g), torch.randn(3, 4, 5, 5, generator=g)
    scale = torch.full((1, 2, 1, 1), 0.7)
    y, ld = AffineTransform.apply(x, st, scale, None)
    s = 0.7 * torch.tanh(st[:, :2])
    torch.testing.assert_close(y, x * torch.exp(s) + st[:, 2:], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ld, s.sum((1, 2, 3)), atol=1e-5, rtol=1e-6)
    # a bf16 network output (autocast): float32 results, gradient returned in bf16 and channels_last
    st16 = st.to(torch.bfloat16, memory_format=torch.channels_last).requires_grad_()
    y16, ld16 = AffineTransform.apply(x, st16, scale, None)
    assert y16.dtype == ld16.dtype == torch.float32
    torch.testing.assert_close(y16, y, atol=0.05, rtol=0.02)
    (y16.sum() + ld16.sum()).backward()
    assert st16.grad.dtype == torch.bfloat16 and st16.grad.is_contiguous(memory_format=torch.channels_last)


def test_flow_under_bf16_autocast_keeps_the_invertible_maths_in_float32():
    torch.manual_seed(0)
    model = perturb(Glow(GlowConfig(hidden=8, steps=2, scales=2), DataInfo((1, 8, 8), 17)), 0.05).train()
    y = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(3)) * 0.9 + 0.05
    ref = model.log_density(y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        zs, logdet = model.flow(model._pre(y)[0])
        lp = model.log_density(y)
    assert logdet.dtype == torch.float32 and all(z.dtype == torch.float32 for z in zs)
    rel = ((lp - ref).abs() / ref.abs()).max().item()
    assert 0 <= rel < 0.02, rel  # only the coupling networks ran in bf16


def test_fused_flow_forward_equals_layer_by_layer():
    """MultiScaleFlow fuses ActNorm + InvConv1x1 pairs; the result must equal running every layer."""
    torch.manual_seed(0)
    model = perturb(Glow(GlowConfig(hidden=8, steps=2, scales=2), DataInfo((1, 8, 8), 17)), 0.05).eval()
    w = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    zs, logdet = model.flow(w)
    h, ref_ld, ref_zs = w, torch.zeros(3), []
    for k, scale in enumerate(model.flow.scales):
        for layer in scale:
            h, ld = layer(h)
            ref_ld = ref_ld + ld
        if k < len(model.flow.scales) - 1:
            ref_zs.append(h[:, :h.shape[1] // 2])
            h = h[:, h.shape[1] // 2:]
    ref_zs.append(h)
    for z, r in zip(zs, ref_zs):
        torch.testing.assert_close(z, r, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logdet, ref_ld, atol=1e-4, rtol=1e-5)


def flow_models():
    torch.manual_seed(0)
    return {
        "realnvp": perturb(RealNVP(RealNVPConfig(hidden=8, couplings=1), DataInfo((1, 4, 4), 17)), 0.05),
        "realnvp_packed": perturb(RealNVP(RealNVPConfig(hidden=8, couplings=1, checkerboard="packed"),
                                          DataInfo((1, 4, 4), 17)), 0.05),
        "glow": perturb(Glow(GlowConfig(hidden=8, steps=2, scales=2), DataInfo((1, 4, 4), 17)), 0.05),
        "glow_nolu": perturb(Glow(GlowConfig(hidden=8, steps=2, scales=1, lu=False), DataInfo((1, 4, 4), 17)), 0.05),
    }


@pytest.mark.parametrize("name", ["realnvp", "realnvp_packed", "glow", "glow_nolu"])
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
