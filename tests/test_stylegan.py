"""stylegan: equalised lr, demodulation, style mixing, truncation and w̄, lazy R1 / path-length phases, ADA's
controller, bit-exact resume through the Trainer, the style-mix / truncation / W-space explore commands and
the PPL estimator on functions whose path length is known by hand."""
import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from genlab.cli.main import main
from genlab.errors import GenlabError
from genlab.fields import DataInfo
from genlab.losses.regularizers import path_lengths, r1_penalty
from genlab.metrics.ppl import path_distances, trimmed_mean
from genlab.models.gans.augment import Augment, translation
from genlab.models.gans.stylegan import StyleGAN, StyleGANConfig
from genlab.nn.equalized import EqualConv2d, EqualLinear
from genlab.nn.style import ModulatedConv2d
from genlab.nn.style_generator import StyleGenerator, mix_styles, style_resolutions

from helpers import tiny_trainer
from test_contract_v2 import _resume_matches

TINY = dict(latent_dim=8, mapping_layers=2, channels=4, max_channels=8)


def _generator(size=32, **kw):
    torch.manual_seed(0)
    return StyleGenerator(latent_dim=8, mapping_layers=2, mapping_lr_mul=0.01, size=size, channels=1,
                          width=lambda r: 4, **kw).eval()


# --- building blocks ------------------------------------------------------------------------------

def test_equalised_lr_scales_the_weight_at_runtime_and_the_gradient_with_it():
    torch.manual_seed(0)
    lin = EqualLinear(256, 64, lr_mul=0.01)
    assert lin.weight.std().item() == pytest.approx(100.0, rel=0.03)  # stored Ŵ ~ N(0, 1/λ²)
    assert lin.effective_weight().std().item() == pytest.approx(1 / 16, rel=0.03)  # W = λ/√fan_in · Ŵ
    conv = EqualConv2d(32, 16, 3)
    assert (conv.weight * conv.scale).std().item() == pytest.approx(1 / math.sqrt(32 * 9), rel=0.05)
    x = torch.randn(8, 256)
    lin(x).pow(2).sum().backward()
    w_eff = lin.effective_weight().detach().requires_grad_(True)
    F.linear(x, w_eff, lin.bias.detach() * lin.lr_mul).pow(2).sum().backward()
    c = 0.01 / 16
    assert torch.allclose(lin.weight.grad, c * w_eff.grad, rtol=1e-4, atol=1e-9)  # ∂L/∂Ŵ = c ∂L/∂W
    assert not torch.allclose(lin.weight.grad, w_eff.grad, rtol=0.5)


def test_demodulation_gives_unit_output_variance_and_both_implementations_agree():
    torch.manual_seed(0)
    x = torch.randn(4, 64, 24, 24)
    w = torch.randn(4, 8)
    for demod in (True, False):
        conv = ModulatedConv2d(64, 32, 3, 8, demodulate=demod)
        with torch.no_grad():
            conv.affine.weight.zero_()
            conv.affine.bias.fill_(3.0)  # every style s = 3: undemodulated variance ≈ 9
            var = conv(x, w)[..., 1:-1, 1:-1].var().item()  # interior: no zero padding in the window
        assert var == pytest.approx(1.0, abs=0.08) if demod else var > 6
    grouped = ModulatedConv2d(16, 8, 3, 8, up=True)
    scaled = ModulatedConv2d(16, 8, 3, 8, up=True, mode="scaled")
    scaled.load_state_dict(grouped.state_dict())
    x, w = torch.randn(3, 16, 5, 5), torch.randn(3, 8)
    a, b = grouped(x, w), scaled(x, w)
    assert a.shape == (3, 8, 10, 10) and torch.allclose(a, b, atol=1e-5)


def test_style_mixing_changes_only_the_layers_from_the_crossover_on():
    g = _generator(size=32)
    assert g.n_ws == 8 and style_resolutions(32) == (4, 8, 8, 16, 16, 32, 32, 32)
    w1, w2 = g.mapping(torch.randn(2, 8)), g.mapping(torch.randn(2, 8))
    cutoff = 3
    outs = {}
    for tag, ws in (("plain", mix_styles(w1, w1, torch.full((2,), 8), 8)),
                    ("mixed", mix_styles(w1, w2, torch.full((2,), cutoff), 8))):
        hooks = [m.register_forward_hook(lambda mod, i, o, k=k: outs.setdefault(tag, {}).__setitem__(k, o))
                 for k, m in [(f"layer{j}", l) for j, l in enumerate(g.synthesis.layers)] +
                 [(f"rgb{k}", r) for k, r in enumerate(g.synthesis.to_rgb)]]
        with torch.no_grad():
            g(ws=ws)
        for h in hooks:
            h.remove()
    for j in range(len(g.synthesis.layers)):  # layer j reads w_j
        same = torch.equal(outs["plain"][f"layer{j}"], outs["mixed"][f"layer{j}"])
        assert same == (j < cutoff), j
    for k in range(len(g.synthesis.to_rgb)):  # toRGB k reads w_{2k+1}
        assert torch.equal(outs["plain"][f"rgb{k}"], outs["mixed"][f"rgb{k}"]) == (2 * k + 1 < cutoff), k
    gen = torch.Generator().manual_seed(1)
    _, ws = g(torch.randn(2000, 8), generator=gen, mix_prob=0.9, return_ws=True)
    mixed = (ws != ws[:, :1]).any(-1)  # (B, L): styles that differ from layer 0's
    frac = mixed.any(1).float().mean().item()
    assert frac == pytest.approx(0.9, abs=0.03)
    first = torch.where(mixed.any(1), mixed.float().argmax(1), torch.full((2000,), 8))
    assert torch.equal(mixed, torch.arange(8)[None] >= first[:, None])  # one crossover, w₂ from there on
    _, ws = g(torch.randn(50, 8), generator=gen, mix_prob=0.0, return_ws=True)
    assert torch.equal(ws, ws[:, :1].expand_as(ws))


def _model(shape=(1, 8, 8), **cfg):
    torch.manual_seed(0)
    return StyleGAN(StyleGANConfig(**{**TINY, **cfg}), DataInfo(shape, 256, 10)).eval()


def test_truncation_and_the_tracked_w_average():
    m = _model()
    g = m.generator
    z = torch.randn(64, 8)
    with torch.no_grad():
        g(z, track=True)
        expected = (1 - 0.995) * g.mapping(z).mean(0)  # w̄ starts at 0: one EMA step
    assert torch.allclose(g.w_avg, expected, atol=1e-6) and g.w_avg.abs().sum() > 0
    g.w_avg.copy_(torch.randn(8))
    with torch.no_grad():
        x0 = m.decode_w(m.to_w(z[:5], psi=0.0))
        assert torch.allclose(x0, m.decode_w(g.w_avg[None].expand(5, -1)), atol=1e-6)  # ψ = 0: G(w̄)
        assert torch.allclose(x0, x0[:1].expand_as(x0), atol=1e-6)
        assert torch.equal(m.to_w(z, psi=1.0), g.mapping(z))  # ψ = 1: untouched
        x1 = m.decode(z[:5])  # model.truncation = 1
        assert (x1 - x1[:1]).abs().amax() > 1e-3
        half = m.to_w(z, psi=0.5)
        assert torch.allclose(half, g.w_avg + 0.5 * (g.mapping(z) - g.w_avg), atol=1e-6)


def test_test_time_mixing_of_k_latents_has_k_minus_1_crossovers():
    m = _model(shape=(1, 32, 32), sample_mixing=3)
    ws = m.mixed_styles(200, 3, generator=torch.Generator().manual_seed(0))
    changes = (ws[:, 1:] != ws[:, :-1]).any(-1).sum(1)  # (B,) style switches along the 8 layers
    assert ws.shape == (200, 8, 8) and (changes == 2).all()
    assert m.sample(4, generator=torch.Generator().manual_seed(0)).shape == (4, 1, 32, 32)
    with pytest.raises(GenlabError, match="sample_mixing=9"):
        _model(shape=(1, 32, 32), sample_mixing=9)


def test_28_px_images_are_padded_to_32_and_samples_cropped_back():
    m = _model(shape=(1, 28, 28))
    assert m.res == 32 and m.generator.n_ws == 8
    x = torch.rand(2, 1, 28, 28)
    y = m.to_model(x)
    assert y.shape == (2, 1, 32, 32) and torch.equal(y[..., 2:30, 2:30], x * 2 - 1)
    assert (y[..., :2, :] == -1).all() and (y[..., :, 30:] == -1).all()
    fake = m.for_d(torch.randn(2, 1, 32, 32))
    assert (fake[..., :2, :] == -1).all() and (fake[..., 30:, :] == -1).all()
    s = m.sample(3, generator=torch.Generator().manual_seed(0))
    assert s.shape == (3, 1, 28, 28) and 0 <= s.min() and s.max() <= 1


def test_r1_and_path_lengths_on_functions_known_by_hand():
    a = torch.randn(1, 3, 4, 4)
    pen = r1_penalty(lambda x: (x * a).flatten(1).sum(1), torch.randn(5, 3, 4, 4))  # ∇D = a
    assert pen.item() == pytest.approx(a.pow(2).sum().item(), rel=1e-5)
    for c in (0.5, 2.0):  # g(ws) = c · (mean over layers of w), an image of 32 × 32 = D pixels
        ws = torch.randn(64, 3, 1024).requires_grad_(True)
        images = (c * ws.mean(1)).view(64, 1, 32, 32)
        lengths = path_lengths(images, ws, generator=torch.Generator().manual_seed(0))
        assert lengths.mean().item() == pytest.approx(c / 3, rel=0.03)  # ‖J_iᵀ y‖ = (c/3)‖y‖, ‖y‖ ≈ 1


def test_r1_runs_only_every_16th_step_and_path_length_every_4th():
    tr = tiny_trainer("stylegan", steps=17)
    seen_r1, seen_pl = [], []
    for step in range(17):
        tr.step = step
        logs = tr._train_step()
        if "discriminator/r1" in logs:
            seen_r1.append(step)
        if "generator/pl_penalty" in logs:
            seen_pl.append(step)
        assert "discriminator/loss" in logs and "generator/loss" in logs
    assert seen_r1 == [0, 16] and seen_pl == [0, 4, 8, 12, 16]


# --- augmentation ----------------------------------------------------------------------------------

def test_ada_p_rises_when_d_overfits_falls_otherwise_and_adjusts_once_per_step():
    aug = Augment("ada", kimg=1.0, interval=4)  # full speed: Δp = N / 1000 per adjustment
    assert aug.p.item() == 0.0
    for step in range(1, 9):
        aug.observe(torch.full((16,), 2.0))  # D says "real" to every real: r_t = 1 > 0.6
        aug.adjust(step)
        aug.adjust(step)  # a second micro-batch of the same step changes nothing
    assert aug.p.item() == pytest.approx(2 * 64 / 1000) and aug.rt.item() == 1.0
    for step in range(9, 13):
        aug.observe(torch.tensor([1.0, -1.0] * 8))  # r_t = 0 < 0.6
        aug.adjust(step)
    assert aug.p.item() == pytest.approx(64 / 1000) and aug.rt.item() == 0.0
    for step in range(13, 41):
        aug.observe(-torch.ones(16))
        aug.adjust(step)
    assert aug.p.item() == 0.0  # clipped
    fixed = Augment("diffaugment")
    fixed.observe(torch.ones(16))
    fixed.adjust(4)
    assert fixed.p.item() == 1.0 and fixed.rt.item() == 1.0


def test_augmentations_are_differentiable_and_translation_moves_pixels():
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 8, 8] = 1.0
    g = torch.Generator().manual_seed(3)
    moved = translation(x, g)
    (i, j), = torch.nonzero(moved[0, 0]).tolist()
    assert max(abs(i - 8), abs(j - 8)) <= 2 and moved.sum() == 1  # ⅛ of 16 px
    aug = Augment("diffaugment")
    img = torch.rand(4, 3, 16, 16, requires_grad=True)
    out = aug(img, torch.Generator().manual_seed(0))
    out.sum().backward()
    assert out.shape == img.shape and not torch.equal(out, img) and img.grad.abs().sum() > 0
    assert torch.equal(Augment("none")(img, g), img)


# --- training through the Trainer --------------------------------------------------------------------

def test_resume_is_bit_exact_with_ada_p_and_w_average(tmp_path):
    full, resumed = _resume_matches("stylegan", tmp_path, train={"ema": 0.9},
                                    model={"ada_interval": 1, "ada_kimg": 0.01, "r1_interval": 2,
                                           "pl_interval": 2})
    a, b = full.model, resumed.model
    assert a.augment.p.item() != 0.5 and a.augment.p.item() == b.augment.p.item()  # p moved and came back
    assert a.generator.w_avg.abs().sum() > 0 and torch.equal(a.generator.w_avg, b.generator.w_avg)
    assert torch.equal(a.pl_mean, b.pl_mean) and a.pl_mean > 0
    assert all(torch.equal(full.ema.shadow[n][k], resumed.ema.shadow[n][k])
               for n in full.ema.shadow for k in full.ema.shadow[n])


# --- explore and eval through the CLI --------------------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("stylegan") / "run"
    args = [f"--model.{k}={v}" for k, v in TINY.items()]
    assert main(["train", "stylegan", "--data", "digits", "--out", str(out), *args, "--train.steps=3",
                 "--train.batch_size=16", "--train.progress=false", "--train.threads=1", "--train.ema=0.9"]) == 0
    return out


def test_style_mix_and_truncation_write_their_grids(run, capsys):
    png = run / "mix.png"
    assert main(["explore", str(run), "style-mix", "--coarse", "1,2", "--fine", "3,4,5", "--out", str(png)]) == 0
    with Image.open(png) as im:  # (2 + 1) × (3 + 1) cells of 8 px, 2 px gaps, 4× upscaled
        assert im.size == (((3 + 1) * (8 + 2) + 2) * 4, ((2 + 1) * (8 + 2) + 2) * 4)
    assert "styles 0-3" in capsys.readouterr().out  # 8 px: every style is coarse
    assert main(["explore", str(run), "style-mix", "--rows", "1", "--cols", "2", "--layers", "2-3",
                 "--out", str(run / "mix2.png")]) == 0
    assert main(["explore", str(run), "truncation", "--psi", "1,0.5,0", "--seeds", "0,1"]) == 0
    assert (run / "explore" / "truncation.png").is_file()
    assert main(["explore", str(run), "interpolate", "--space", "w", "--path", "lerp", "--pairs", "2",
                 "--steps", "4", "--out", str(run / "w.png")]) == 0
    capsys.readouterr()
    assert main(["explore", str(run), "style-mix", "--layers", "middle", "--out", str(run / "bad.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--layers middle is empty" in err


def test_eval_ppl_records_z_and_w_path_lengths(run, capsys):
    assert main(["eval", str(run), "--metrics", "ppl", "-n", "16", "--batch", "8"]) == 0
    out = capsys.readouterr().out
    assert "ppl_z:" in out and "ppl_w:" in out and "digits-classifier" in out
    import json
    recs = [r for r in json.loads((run / "metrics.json").read_text())["records"] if r["kind"] == "ppl"]
    assert recs and recs[0]["protocol"]["eps"] == 1e-4 and recs[0]["values"]["ppl_w"] >= 0


# --- the PPL estimator -----------------------------------------------------------------------------

def test_ppl_estimator_matches_path_lengths_computed_by_hand():
    torch.manual_seed(0)
    a_mat = torch.randn(12, 6, dtype=torch.float64)
    decode = lambda w: (w @ a_mat.T).view(-1, 1, 3, 4)  # noqa: E731  linear "generator", 3×4 images
    ident = lambda x: x.flatten(1)  # noqa: E731  features = pixels
    a, b = torch.randn(500, 6, dtype=torch.float64), torch.randn(500, 6, dtype=torch.float64)
    t = torch.rand(500, dtype=torch.float64)
    d = path_distances(decode, ident, a, b, t, path="lerp", batch=128)
    assert torch.allclose(d, ((b - a) @ a_mat.T).pow(2).sum(1), rtol=1e-5)  # d/ε² = ‖A(b − a)‖² exactly
    assert d.mean().item() == pytest.approx(2 * a_mat.pow(2).sum().item(), rel=0.15)  # E = 2‖A‖²_F
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)  # equal norms: the norm stays put
    c = 3.0
    d = path_distances(lambda z: c * z.view(-1, 1, 2, 3), ident, a, b, t, path="slerp")
    omega = torch.acos((a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)))
    assert torch.allclose(d, (c * a.norm(dim=1) * omega).pow(2), rtol=1e-3)  # arc speed ‖a‖Ω, scaled by c
    vals = torch.cat([torch.ones(998), torch.tensor([-1e6, 1e6])]).double()
    assert trimmed_mean(vals) == pytest.approx(1.0)  # the 1st/99th-percentile outliers are dropped
