"""Emulators of physical fields (issue 16): dcgan on rectangular fields with periodic padding along the
data's periodic axes, the power-spectrum term of G, random circular shifts of the real examples, and
flows on unbounded fields (identity preprocessing, no clamp)."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import genlab
from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.losses.spectral import batch_spectrum, spectral_loss
from genlab.models.gans.tricks import random_roll
from genlab.nn import downsample_plan


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _grf(size=16, n=64):
    return load_dataset("grf", "train", size=size, n=n)


def _rect_periodic(h=8, w=32):
    """A tiny (2, h, w) field periodic along W only (rectangular, like convection snapshots)."""
    from genlab.data.base import FieldDataset
    from genlab.fields import FieldSpec, Normalizer

    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 2, h, w, generator=g)
    spec = FieldSpec((2, h, w), "field", normalizer=Normalizer((0.0, 0.0), (1.0, 1.0), "K"), periodic=(2,),
                     channels=("a", "b"))
    return FieldDataset("strip", "train", {"x": x}, {"x": spec})


def _trunk(d: nn.Sequential) -> nn.Sequential:
    return nn.Sequential(*list(d)[:-2])  # without Flatten + Linear: the conv feature maps


def _g_convs(g: nn.Sequential) -> nn.Sequential:
    return nn.Sequential(*list(g)[2:])  # after Linear + Unflatten: the (C0, s_H, s_W) map -> the field


def test_dcgan_on_a_rectangular_periodic_field_wraps_in_x_only():
    """padding=auto: G's convolutions wrap around x (a roll of its first feature map rolls the field by
    2^stages pixels) but not z, and D zero-pads; padding=periodic wraps D as well; zeros wraps neither."""
    data = _rect_periodic()
    m = genlab.build("dcgan", data, latent_dim=8, g_channels=4, d_channels=4)
    assert tuple(m.sample(3).shape) == (3, 2, 8, 32)
    stages = len(downsample_plan(8))  # stride-2 stages (8 px high -> 4: one)
    assert stages == 1
    g = _g_convs(m.generator).eval()
    h = torch.randn(2, m.generator[2].num_features, 8 >> stages, 32 >> stages)  # G's first map (B, C0, s_H, s_W)
    d_in = torch.randn(2, 2, 8, 32)
    with torch.no_grad():
        assert torch.allclose(g(torch.roll(h, 1, 3)), torch.roll(g(h), 2 ** stages, 3), atol=1e-5)
        assert not torch.allclose(g(torch.roll(h, 1, 2)), torch.roll(g(h), 2 ** stages, 2), atol=1e-3)  # walls
        t = _trunk(m.discriminator).eval()  # auto: D zero-pads
        assert not torch.allclose(t(torch.roll(d_in, 2 ** stages, 3)), torch.roll(t(d_in), 1, 3), atol=1e-3)
    both = genlab.build("dcgan", data, latent_dim=8, g_channels=4, d_channels=4, padding="periodic")
    zeros = genlab.build("dcgan", data, latent_dim=8, g_channels=4, d_channels=4, padding="zeros")
    with torch.no_grad():
        t = _trunk(both.discriminator).eval()
        assert torch.allclose(t(torch.roll(d_in, 2 ** stages, 3)), torch.roll(t(d_in), 1, 3), atol=1e-5)
        g0 = _g_convs(zeros.generator).eval()
        assert not torch.allclose(g0(torch.roll(h, 1, 3)), torch.roll(g0(h), 2 ** stages, 3), atol=1e-3)


def test_dcgan_resize_convolution_generator_on_a_periodic_strip():
    data = _rect_periodic(8, 32)
    m = genlab.build("dcgan", data, latent_dim=8, g_channels=4, d_channels=4, upsample="nearest")
    g = m.generator
    assert not any(isinstance(l, nn.ConvTranspose2d) for l in g.modules())
    assert sum(isinstance(l, nn.Upsample) for l in g.modules()) == len(downsample_plan(8))
    x = m.sample(3)
    assert x.shape == (3, 2, 8, 32) and torch.isfinite(x).all()
    with pytest.raises(GenlabError, match="transposed"):
        genlab.build("dcgan", load_dataset("digits", "train"), arch="infogan", upsample="nearest")
    with pytest.raises((GenlabError, ValueError), match="upsample"):
        genlab.build("dcgan", data, upsample="bilinear-ish")


def test_dcgan_without_periodic_axes_keeps_torch_layers_and_state_keys():
    digits = load_dataset("digits", "train")
    m = genlab.build("dcgan", digits, latent_dim=8, g_channels=4, d_channels=4)
    kinds = {type(mod) for mod in m.modules()}
    assert nn.Conv2d in kinds and nn.ConvTranspose2d in kinds
    assert not any("Padded" in k.__name__ for k in kinds)  # the original networks, checkpoints unchanged


def test_dcgan_shape_and_option_errors():
    data = _rect_periodic(h=16, w=34)  # two stride-2 stages, and 34 is not divisible by 4
    with pytest.raises(GenlabError, match="divisible"):
        genlab.build("dcgan", data, latent_dim=8, g_channels=4, d_channels=4)
    with pytest.raises(GenlabError, match="periodic axis"):
        genlab.build("dcgan", load_dataset("digits", "train"), latent_dim=8, g_channels=4, d_channels=4,
                     shift_augment=True)
    with pytest.raises(GenlabError, match="physical fields"):
        genlab.build("dcgan", load_dataset("digits", "train"), latent_dim=8, g_channels=4, d_channels=4,
                     spectral_weight=1.0)


def test_batch_spectrum_puts_a_cosine_at_its_wavenumber():
    w = 32
    xs = torch.arange(w) / w
    row = torch.cos(2 * math.pi * 5 * xs)  # k = 5 along the periodic W
    x = row.expand(4, 1, 8, w).clone()
    p = batch_spectrum(x, periodic_dims=(3,))  # (C, H, W/2)
    assert p.shape == (1, 8, 16)
    assert p[0, :, 4].tolist() == pytest.approx([0.25] * 8, rel=1e-5)  # |F|²/N² = (1/2)² at k = 5 (index 4)
    assert float(p[0].sum(1).sub(0.25).abs().max()) < 1e-5  # and nothing elsewhere
    # 2-D radial: a plane wave (3, 4) has |k| = 5
    yy, xx = torch.meshgrid(torch.arange(16) / 16, torch.arange(16) / 16, indexing="ij")
    f = torch.cos(2 * math.pi * (3 * yy + 4 * xx)).expand(2, 1, 16, 16)
    p2 = batch_spectrum(f, periodic_dims=(2, 3))
    assert int(p2[0].argmax()) == 4  # bin |k| = 5


def test_spectral_loss_zero_on_itself_large_for_a_blurred_field():
    data = _grf(size=32, n=64)
    real = data.get(slice(0, 32))
    assert float(spectral_loss(real, real)) == pytest.approx(0.0, abs=1e-10)
    blurred = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(real, (1, 1, 1, 1), mode="circular"), 3, 1)
    noisy = real + 0.01 * torch.randn_like(real)
    assert float(spectral_loss(blurred, real)) > 0.5
    assert float(spectral_loss(noisy, real)) < 0.05
    fake = blurred.clone().requires_grad_(True)
    spectral_loss(fake, real).backward()
    assert fake.grad is not None and float(fake.grad.abs().sum()) > 0


def test_random_roll_shifts_each_example_by_its_own_amount():
    x = torch.arange(4 * 10, dtype=torch.float32).view(4, 1, 1, 10).expand(4, 1, 3, 10).clone()
    g = torch.Generator().manual_seed(0)
    y = random_roll(x, [3], generator=g)
    shifts = []
    for b in range(4):
        matches = [s for s in range(10) if torch.equal(torch.roll(x[b], s, 2), y[b])]
        assert len(matches) == 1
        shifts.append(matches[0])
    assert len(set(shifts)) > 1  # not one shift for the whole batch
    y2 = random_roll(x, [3], generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, y2)


def test_dcgan_with_shift_augment_and_spectral_term_trains_a_few_steps():
    data = _grf(size=16, n=64)
    m = genlab.build("dcgan", data, latent_dim=8, g_channels=4, d_channels=4, shift_augment=True,
                     spectral_weight=0.5)
    hist = genlab.fit(m, data, steps=3, batch_size=16, log_every=1)
    assert m.sample(2).shape == (2, 1, 16, 16)
    assert hist is not None


def test_flows_model_unbounded_fields_without_logit_or_clamp():
    data = _grf(size=16, n=64)
    for name in ("realnvp", "glow"):
        m = genlab.build(name, data, hidden=8, couplings=1, scales=1) if name == "realnvp" else \
            genlab.build(name, data, hidden=8, steps=1, scales=1)
        x = data.get(slice(0, 4))  # standardised: values beyond [0, 1]
        assert float(x.min()) < -0.5 and float(x.max()) > 1.5
        z = m.encode(x)
        back = m.decode(z)
        assert torch.allclose(back, x, atol=1e-4)  # exact inverse on the raw field (no clamp to [0, 1])
        nll = m.nll(x)
        assert torch.isfinite(nll).all()
        s = m.sample(4)
        assert float(s.min()) < 0 or float(s.max()) > 1  # samples are not squashed into [0, 1]


def _periodic_file(tmp_path, name, transform=lambda a: a):
    rng = np.random.default_rng(0)
    x = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    rows = np.cos(np.linspace(0, 3, 16))[:, None]
    a = np.stack([5 * np.sin(3 * x[None, :] + rng.uniform(0, 6)) * rows + 280 for _ in range(20)])[:, None]
    path = tmp_path / f"{name}.npy"
    np.save(path, transform(a).astype(np.float32))
    return str(path)


def test_a_declared_periodic_axis_is_checked(tmp_path):
    ok = load_dataset("array", "train", path=_periodic_file(tmp_path, "ok"), periodic="x", units="K")
    assert ok.info.spec.periodic == (2,)
    m = genlab.build("dcgan", ok, latent_dim=8, g_channels=4, d_channels=4)  # pads periodically in x
    assert any("Padded" in type(mod).__name__ for mod in m.modules())
    ramp = _periodic_file(tmp_path, "ramp", lambda a: a + np.linspace(0, 20, 64))  # a gradient: no wrap
    with pytest.raises(GenlabError, match=r"does not wrap.*drop data.periodic=x"):
        load_dataset("array", "train", path=ramp, periodic="x")
    closed = _periodic_file(tmp_path, "closed", lambda a: np.concatenate([a, a[..., :1]], -1))  # 0 ... 360°
    with pytest.raises(GenlabError, match="repeats the first"):
        load_dataset("array", "train", path=closed, periodic="x")
    with pytest.raises(GenlabError, match="invalid"):
        load_dataset("array", "train", path=_periodic_file(tmp_path, "ok2"), periodic="z")
    img = tmp_path / "img.npy"
    np.save(img, np.random.default_rng(0).random((10, 1, 8, 8)).astype(np.float32))  # in [0, 1]: images
    with pytest.raises(GenlabError, match="physical fields"):
        load_dataset("array", "train", path=str(img), periodic="x")


def test_cli_periodic_axis_that_is_not_periodic_is_one_line_exit_2(tmp_path):
    ramp = _periodic_file(tmp_path, "ramp", lambda a: a + np.linspace(0, 20, 64))
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "genlab", "train", "dcgan", "--data", "array", f"--data.path={ramp}",
                        "--data.periodic=x", "--train.steps=1", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not wrap" in lines[0] and "Traceback" not in r.stderr
    assert not out.exists()


def test_dcgan_second_stage_starts_from_another_run_and_refuses_another_shape(tmp_path, capsys):
    """model.init_from=RUN: a new dcgan run (e.g. with the spectral term on) starts from RUN's G (EMA) and D."""
    from genlab.cli.main import main
    from genlab.runs import load_run

    base = ["--data", "grf", "--data.size=16", "--data.n=64", "--model.latent_dim=8", "--model.d_channels=4",
            "--train.batch_size=16", "--train.ema=0.9", "--train.progress=false"]
    first = tmp_path / "stage1"
    assert main(["train", "dcgan", *base, "--model.g_channels=4", "--train.steps=3", "--out", str(first)]) == 0
    from genlab.config import resolve
    from genlab.runs import build_model, warm_start

    cfg = resolve("dcgan", [{"data": {"name": "grf", "size": 16, "n": 64}, "train": {"ema": 0.9},
                             "model": {"latent_dim": 8, "g_channels": 4, "d_channels": 4, "init_from": str(first),
                                       "spectral_weight": 0.5}}])
    b = build_model(cfg, load_dataset("grf", "train", size=16, n=64).info)
    fresh = {k: v.clone() for k, v in b.generator.state_dict().items()}
    warm_start(b)
    a = load_run(first).model  # G with its EMA weights, D live
    for name in ("generator", "discriminator"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), name
    assert not all(torch.equal(v, b.generator.state_dict()[k]) for k, v in fresh.items())
    assert not all(torch.equal(v, load_run(first, use_ema=False).model.generator.state_dict()[k])
                   for k, v in b.generator.state_dict().items())  # the EMA, not the live G
    second = tmp_path / "stage2"
    assert main(["train", "dcgan", *base, "--model.g_channels=4", f"--model.init_from={first}",
                 "--model.spectral_weight=0.5", "--train.steps=1", "--out", str(second)]) == 0
    assert load_run(second).model.sample(2).shape == (2, 1, 16, 16)
    capsys.readouterr()
    wider = tmp_path / "wider"
    assert main(["train", "dcgan", *base, "--model.g_channels=8", f"--model.init_from={first}",
                 "--train.steps=1", "--out", str(wider)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another shape" in err[0] and not wider.exists()
