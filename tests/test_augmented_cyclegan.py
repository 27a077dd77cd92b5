"""augmented-cyclegan: the loss terms by hand, stochastic translation (diversity, same z = same output),
translate_many, a one-sided (deterministic) direction, config and size errors, bit-exact resume."""
import os
import signal

import pytest
import torch

from genlab.data import load_dataset
from genlab.data.base import FieldDataset
from genlab.data.streams import UnalignedDataset
from genlab.errors import GenlabError
from genlab.fields import Batch, DataInfo, FieldSpec, Normalizer
from genlab.models.translation.augmented_cyclegan import AugmentedCycleGAN, AugmentedCycleGANConfig
from genlab.training import TrainingInterrupted
from genlab.training import checkpoint as ckpt

from helpers import state, tiny_trainer

torch.set_num_threads(1)
TINY = dict(base=4, n_blocks=1, e_base=4, e_layers=2, d_base=4, d_layers=1, dz_hidden=8)


def _model(za=2, zb=3, shape_a=(1, 8, 8), shape_b=(1, 8, 8), **kw):
    info = DataInfo.of({"a": FieldSpec(shape_a, "image"), "b": FieldSpec(shape_b, "image")}, "b")
    torch.manual_seed(0)
    return AugmentedCycleGAN(AugmentedCycleGANConfig(za_dim=za, zb_dim=zb, **{**TINY, **kw}), info)


def test_loss_terms_match_hand_computations_and_d_uses_the_g_phase_outputs():
    tr = tiny_trainer("augmented-cyclegan")  # tiny: za_dim 2, zb_dim 3, LSGAN, default weights
    m = tr.model
    batch = tr.batcher.next(torch.Generator().manual_seed(0))
    batch.generator = torch.Generator().manual_seed(5)
    out = m.g_loss(batch)
    g = torch.Generator().manual_seed(5)
    n = batch.x.shape[0]
    z_b, z_a = torch.randn(n, 3, generator=g), torch.randn(n, 2, generator=g)  # the documented draw order
    cat = lambda u, v: torch.cat([u, v], 1)  # noqa: E731
    with torch.no_grad():
        ra, rb = batch.x * 2 - 1, batch.noisy * 2 - 1
        fb = m.g_ab(ra, z_b)
        zt_a = m.e_a(cat(ra, fb))
        rec_a, rec_zb = m.g_ba(fb, zt_a), m.e_b(cat(ra, fb))
        fa = m.g_ba(rb, z_a)
        zt_b = m.e_b(cat(fa, rb))
        rec_b, rec_za = m.g_ab(fa, zt_b), m.e_a(cat(fa, rb))
        ls = lambda d: (d - 1).pow(2).mean()  # noqa: E731  LSGAN G term
        want = {"g_ab": ls(m.d_b(fb)), "g_ba": ls(m.d_a(fa)), "g_za": ls(m.d_za(zt_a)), "g_zb": ls(m.d_zb(zt_b)),
                "cycle_a": (rec_a - ra).abs().mean(), "cycle_b": (rec_b - rb).abs().mean(),
                "cycle_za": (rec_za - z_a).abs().mean(), "cycle_zb": (rec_zb - z_b).abs().mean()}
    assert set(out) == {"loss", *want}
    for k, v in want.items():
        assert out[k].item() == pytest.approx(v.item(), rel=1e-5, abs=1e-6), k
    total = (want["g_ab"] + want["g_ba"] + want["g_za"] + want["g_zb"] + want["cycle_a"] + want["cycle_b"]
             + 0.025 * (want["cycle_za"] + want["cycle_zb"]))
    assert out["loss"].item() == pytest.approx(total.item(), rel=1e-5)
    out["loss"].backward()  # the encoders learn with G
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in (*m.e_a.parameters(), *m.e_b.parameters())
               if p.dim() > 1)
    # the D phase judges the G phase's codes against the G phase's prior draws (no second forward)
    d = m.d_loss(batch)
    assert not m._cache
    with torch.no_grad():
        d_za = ls(m.d_za(z_a)) + m.d_za(zt_a).pow(2).mean()
        d_zb = ls(m.d_zb(z_b)) + m.d_zb(zt_b).pow(2).mean()
    assert d["d_za"].item() == pytest.approx(d_za.item(), rel=1e-5)
    assert d["d_zb"].item() == pytest.approx(d_zb.item(), rel=1e-5)
    assert d["loss"].item() == pytest.approx(0.5 * sum(d[k] for k in ("d_a", "d_b", "d_za", "d_zb")).item(), rel=1e-6)


def test_codes_change_the_output_the_same_code_does_not_and_translate_many_shapes():
    m = _model(shape_b=(3, 8, 8)).eval()
    x = torch.rand(4, 1, 8, 8)
    z1, z2 = torch.randn(4, 3, generator=torch.Generator().manual_seed(1)), torch.randn(4, 3)
    y1, y1b, y2 = m.translate(x, "AtoB", z=z1), m.translate(x, "AtoB", z=z1), m.translate(x, "AtoB", z=z2)
    assert y1.shape == (4, 3, 8, 8) and 0 <= y1.min() and y1.max() <= 1
    assert torch.equal(y1, y1b)
    assert (y1 - y2).abs().mean() > 1e-4  # diversity > 0
    seeded = [m.translate(x, "AtoB", generator=torch.Generator().manual_seed(1)) for _ in range(2)]
    assert torch.equal(seeded[0], seeded[1]) and torch.equal(seeded[0], y1)  # z from the prior, seeded
    one = m.translate(x, "AtoB", z=z1[0])  # one (z_dim,) code for every input
    assert torch.allclose(one[0], y1[0], atol=1e-6)
    many = m.translate_many(x, 5, "AtoB", generator=torch.Generator().manual_seed(2))
    assert many.shape == (4, 5, 3, 8, 8)
    assert (many[:, 0] - many[:, 1]).abs().mean() > 1e-4
    back = m.translate_many(torch.rand(2, 3, 8, 8), 3, "BtoA", generator=torch.Generator().manual_seed(2))
    assert back.shape == (2, 3, 1, 8, 8)
    za, zb = m.infer_latents(x, y1)
    assert za.shape == (4, 2) and zb.shape == (4, 3)
    for bad in (lambda: m.translate(x, "AtoB", z=torch.randn(4, 2)), lambda: m.translate(x, "sideways"),
                lambda: m.translate_many(x, 0)):
        with pytest.raises(GenlabError) as e:
            bad()
        assert "\n" not in str(e.value)
    panels = m.preview(Batch(fields={"a": x, "b": torch.rand(4, 3, 8, 8)}), n=4,
                       generator=torch.Generator().manual_seed(0))
    assert [p.title for p in panels] == ["a", "A to B #1", "A to B #2", "A to B #3", "b",
                                         "B to A #1", "B to A #2", "B to A #3"]


def test_za_dim_zero_is_the_one_sided_reference_model():
    m = _model(za=0, zb=3)
    assert m.e_a is None and m.d_za is None and set(m.networks()) == {"g_ab", "g_ba", "e_b", "d_a", "d_b", "d_zb"}
    x = torch.rand(2, 1, 8, 8)
    many = m.translate_many(x, 3, "BtoA")
    assert torch.equal(many[:, 0], many[:, 2])  # deterministic G_BA
    with pytest.raises(GenlabError, match="deterministic"):
        m.translate(x, "BtoA", z=torch.randn(2, 1))
    batch = Batch(fields={"a": x, "b": torch.rand(2, 1, 8, 8)}, generator=torch.Generator().manual_seed(0))
    out = m.g_loss(batch)
    assert "cycle_za" not in out and "g_za" not in out and {"cycle_zb", "g_zb"} <= set(out)
    assert set(m.d_loss(batch)) == {"loss", "d_a", "d_b", "d_zb"}
    assert _model(latent_adv_weight=0).d_zb is None


def test_bad_config_and_field_sizes_are_one_line_errors():
    for kw, key in (({"za_dim": -1}, "za_dim"), ({"lambda_zb": -0.1}, "lambda_zb"), ({"e_layers": 0}, "e_layers"),
                    ({"pool_size": -2}, "pool_size"), ({"loss": "wgan-gp"}, "model.loss"),
                    ({"za_dim": 0, "zb_dim": 0}, "za_dim"), ({"a": "x", "b": "x"}, "model.a")):
        with pytest.raises(ValueError, match=key) as e:
            AugmentedCycleGANConfig(**kw)
        assert "\n" not in str(e.value)
    with pytest.raises(GenlabError, match=r"model.n_down=2 needs H and W divisible by 4.*6x6") as e:
        _model(shape_a=(1, 6, 6), shape_b=(1, 6, 6))
    assert "\n" not in str(e.value)
    with pytest.raises(GenlabError, match="same H x W"):
        _model(shape_b=(1, 16, 16))
    with pytest.raises(GenlabError, match="d_layers"):
        _model(d_layers=3)


def _interrupt_at(step):
    def cb(trainer, s):
        if s == step:
            os.kill(os.getpid(), signal.SIGINT)
    return cb


def _two_streams(na=100, nb=37):
    digits = load_dataset("digits")
    a = digits.take(torch.arange(na))
    b_x = digits.x[na:na + nb].flip(-1)  # the other domain: mirrored digits, another count
    b = FieldDataset("mirror", "train", {"b": b_x}, {"b": FieldSpec((1, 8, 8), "image", 17,
                                                                    Normalizer((0.0,), (16.0,)))})
    return UnalignedDataset("pair", "train", {"a": a, "b": b})


def test_unaligned_training_resumes_bit_exactly_pools_included(tmp_path):
    data = _two_streams()
    kw = dict(steps=5, dataset=data, model={"b": "b"})
    full = tiny_trainer("augmented-cyclegan", run_dir=tmp_path / "full", **kw)
    full.fit()
    part = tiny_trainer("augmented-cyclegan", run_dir=tmp_path / "part", **kw)
    part.callbacks = (_interrupt_at(2),)
    with pytest.raises(TrainingInterrupted):
        part.fit()
    resumed = tiny_trainer("augmented-cyclegan", run_dir=tmp_path / "part", **kw)
    resumed._load(ckpt.latest_checkpoint(tmp_path / "part"))
    assert resumed.step == 2 and resumed.model.pool_b.count.item() == 4  # the pool came back full
    resumed.fit()
    a, b = state(full.model), state(resumed.model)
    assert a.keys() == b.keys() and {"pool_a.images", "e_a.head.weight", "d_zb.net.0.weight"} <= set(a)
    assert all(torch.equal(a[k], b[k]) for k in a)
