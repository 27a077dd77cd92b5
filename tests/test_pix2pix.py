"""pix2pix: conditional PatchGAN on cat(a, b), receptive-field option, adversarial + λ L1, dropout noise, CLI."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genlab.errors import GenlabError
from genlab.fields import Batch, DataInfo, FieldSpec
from genlab.models.translation.pix2pix import Pix2Pix, Pix2PixConfig
from genlab.nn import receptive_field

torch.set_num_threads(1)

SIZE = 32
INFO = DataInfo.of({"a": FieldSpec((1, SIZE, SIZE), "image"), "b": FieldSpec((3, SIZE, SIZE), "image")},
                   primary="b")
TINY = dict(base=4, depth=3, d_base=4)


def _model(**kw) -> Pix2Pix:
    return Pix2Pix(Pix2PixConfig(**{**TINY, **kw}), INFO)


def _batch(seed: int = 0, n: int = 4) -> Batch:
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, 1, SIZE, SIZE, generator=g) > 0.8).float()  # edges in {0, 1}
    b = torch.rand(n, 3, SIZE, SIZE, generator=g)  # a photo in [0, 1]
    return Batch(fields={"a": a, "b": b}, generator=torch.Generator().manual_seed(seed + 1))


def test_d_sees_cat_of_input_and_target():
    m = _model()
    first = next(mod for mod in m.discriminator.modules() if isinstance(mod, torch.nn.Conv2d))
    assert first.in_channels == 1 + 3
    batch = _batch()
    m.eval()
    x = torch.rand(4, 3, SIZE, SIZE) * 2 - 1
    out = m.discriminate(x, batch)
    other = m.discriminate(x, batch.replace(a=1.0 - batch.a))  # same x, another condition
    assert out.shape == (4, 1, 2, 2) and not torch.allclose(out, other)


@pytest.mark.parametrize("rf, grid", [("1", 32), ("16", 14), ("34", 6), ("70", 2), ("full", 6)])
def test_receptive_field_option_gives_the_patch_grid(rf, grid):
    m = _model(d_receptive_field=rf)
    want_rf = 34 if rf == "full" else int(rf)  # full: the smallest PatchGAN covering 32 px
    assert receptive_field(m.discriminator) == want_rf
    assert m.discriminator.logit_grid(SIZE, SIZE) == (grid, grid)
    m.eval()
    assert m.discriminate(torch.zeros(2, 3, SIZE, SIZE), _batch(n=2)).shape == (2, 1, grid, grid)


def test_bad_receptive_fields_are_refused():
    with pytest.raises(ValueError, match="d_receptive_field"):
        Pix2PixConfig(d_receptive_field="50")
    with pytest.raises(GenlabError, match="d_receptive_field"):
        _model(d_receptive_field=286)  # no 286-px patch fits a 32-px image
    with pytest.raises(ValueError, match="began"):
        Pix2PixConfig(loss="began")


def test_g_loss_is_adversarial_plus_lambda_l1_and_d_loss_is_halved():
    torch.manual_seed(0)
    m = _model(dropout=0.5)
    m.train()
    batch = _batch()
    got = m.g_loss(batch)
    # by hand, with the same dropout masks (the same generator seed)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        a, b = batch.a * 2 - 1, batch.b * 2 - 1  # G space [-1, 1]
        with m._noise(g):
            fake = m.generator(a)
        adv = F.softplus(-m.discriminator(torch.cat([a, fake], 1)).flatten()).mean()  # non-saturating
        l1 = (fake - b).abs().mean()
    torch.testing.assert_close(got["loss"].detach(), adv + 100.0 * l1)
    torch.testing.assert_close(got["l1"], l1)
    torch.testing.assert_close(got["g_adv"], adv)

    d = m.d_loss(_batch())
    g = torch.Generator().manual_seed(1)
    with torch.no_grad(), m._noise(g):
        fake = m.generator(a)
        real_out = m.discriminator(torch.cat([a, b], 1)).flatten()
        fake_out = m.discriminator(torch.cat([a, fake], 1)).flatten()
    want = 0.5 * (F.softplus(-real_out).mean() + F.softplus(fake_out).mean())
    torch.testing.assert_close(d["loss"].detach(), want)


def test_lsgan_and_an_input_named_x_work():
    info = DataInfo.of({"x": FieldSpec((1, 16, 16), "image"), "y2": FieldSpec((2, 16, 16), "field")})
    m = Pix2Pix(Pix2PixConfig(**TINY, loss="lsgan", input="x", target="y2", d_receptive_field=16), info)
    batch = Batch(fields={"x": torch.rand(2, 1, 16, 16), "y2": torch.randn(2, 2, 16, 16)},
                  generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(m.d_loss(batch)["loss"]) and torch.isfinite(m.g_loss(batch)["loss"])
    m.eval()
    out = m.generate(batch)
    assert out.shape == (2, 2, 16, 16) and torch.isfinite(out).all()
    assert not isinstance(m.generator.decoder[0][-1], torch.nn.Tanh)  # linear output for a physical field


def test_dropout_makes_g_stochastic_in_train_mode_only():
    m = _model(dropout=0.5)
    batch = _batch()
    m.train()
    one = m.generate(batch, generator=torch.Generator().manual_seed(0))
    again = m.generate(batch, generator=torch.Generator().manual_seed(0))
    two = m.generate(batch, generator=torch.Generator().manual_seed(1))
    assert torch.equal(one, again) and not torch.allclose(one, two)
    m.eval()
    e1 = m.generate(batch, generator=torch.Generator().manual_seed(0))
    e2 = m.generate(batch, generator=torch.Generator().manual_seed(1))
    assert torch.equal(e1, e2) and e1.shape == (4, 3, SIZE, SIZE) and 0 <= e1.min() and e1.max() <= 1


def test_cli_trains_on_photo_edges_and_writes_a_three_column_preview(tmp_path, capsys):
    import skimage  # noqa: F401  (make test installs scikit-image; photo-edges needs it)
    from PIL import Image

    from genlab.cli.main import main

    out = tmp_path / "run"
    code = main(["train", "pix2pix", "--data", "photo-edges", "--data.n=32", "--data.size=32",
                 "--model.base=4", "--model.depth=3", "--model.d_base=4", "--model.d_receptive_field=16",
                 "--train.steps=3", "--train.batch_size=8", "--train.progress=false", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    pngs = sorted((out / "samples").glob("*.png"))
    assert pngs
    w, h = Image.open(pngs[-1]).size
    assert abs(w / h - 3 / 8) < 0.02, (w, h)  # 3 columns (edges | output | photo) of 8 examples
    assert "\"generator/l1\"" in (out / "metrics.jsonl").read_text()  # the L1 term is logged
