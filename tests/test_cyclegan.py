"""cyclegan: G loss terms by hand, the history pool, a CLI run on an unpaired folder, bit-exact resume."""
import os
import signal

import numpy as np
import pytest
import torch

from genlab.cli.main import main
from genlab.data import load_dataset
from genlab.data.base import FieldDataset
from genlab.data.streams import UnalignedDataset
from genlab.errors import GenlabError
from genlab.fields import Batch, FieldSpec, Normalizer
from genlab.models.translation.cyclegan import CycleGANConfig, HistoryPool
from genlab.training import TrainingInterrupted
from genlab.training import checkpoint as ckpt

from helpers import state, tiny_trainer

torch.set_num_threads(1)


def test_g_loss_terms_match_hand_computations():
    tr = tiny_trainer("cyclegan")
    m = tr.model
    batch = tr.batcher.next(torch.Generator().manual_seed(0))
    out = m.g_loss(batch)
    with torch.no_grad():
        ra, rb = batch.x * 2 - 1, batch.noisy * 2 - 1
        fb, fa = m.g_ab(ra), m.g_ba(rb)
        adv_ab, adv_ba = (m.d_b(fb) - 1).pow(2).mean(), (m.d_a(fa) - 1).pow(2).mean()  # LSGAN G terms
        cyc_a, cyc_b = (m.g_ba(fb) - ra).abs().mean(), (m.g_ab(fa) - rb).abs().mean()
        idt_a, idt_b = (m.g_ba(ra) - ra).abs().mean(), (m.g_ab(rb) - rb).abs().mean()
    want = {"g_ab": adv_ab, "g_ba": adv_ba, "cycle_a": cyc_a, "cycle_b": cyc_b, "idt_a": idt_a, "idt_b": idt_b}
    for k, v in want.items():
        assert out[k].item() == pytest.approx(v.item(), rel=1e-5, abs=1e-6), k
    total = adv_ab + adv_ba + 10 * (cyc_a + cyc_b) + 0.5 * 10 * (idt_a + idt_b)
    assert out["loss"].item() == pytest.approx(total.item(), rel=1e-5)
    # the D phase of the same step uses the G phase's fakes (no second forward), halved LSGAN D loss
    d = m.d_loss(batch)
    assert not m._fakes
    assert d["loss"].item() == pytest.approx(0.5 * (d["d_a"] + d["d_b"]).item(), rel=1e-6)


def test_history_pool_fills_then_swaps_about_half_the_time_and_is_state():
    pool = HistoryPool(4, (1, 2, 2))
    g = torch.Generator().manual_seed(0)
    first = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    assert torch.equal(pool.query(first, g), first)  # filling: the new fakes are shown and kept
    assert pool.count.item() == 4 and torch.equal(pool.images, first)
    swapped, n = 0, 4000
    for i in range(n // 8):
        new = (100.0 + 8 * i + torch.arange(8.0)).view(8, 1, 1, 1).expand(8, 1, 2, 2)  # distinct fakes
        shown = pool.query(new, g)
        swapped += int((shown != new).any(dim=(1, 2, 3)).sum())
    assert 0.45 < swapped / n < 0.55
    assert pool.count.item() == 4
    assert {"images", "count"} <= set(pool.state_dict())
    tr = tiny_trainer("cyclegan")
    sd = tr.model.state_dict()
    assert sd["pool_a.images"].shape == (4, 1, 8, 8) and sd["pool_b.count"].dtype == torch.long


def test_config_refuses_unsupported_losses_and_identity_with_unequal_channels():
    for bad in ("began", "wgan-gp", "relativistic", "wgan"):
        with pytest.raises(ValueError, match="model.loss"):
            CycleGANConfig(loss=bad)
    with pytest.raises(ValueError, match="model.pool_size"):
        CycleGANConfig(pool_size=-1)
    from genlab.fields import DataInfo
    from genlab.models.translation.cyclegan import CycleGAN
    info = DataInfo.of({"a": FieldSpec((1, 8, 8), "image"), "b": FieldSpec((3, 8, 8), "image")}, "b")
    with pytest.raises(GenlabError, match="identity_weight"):
        CycleGAN(CycleGANConfig(base=4, n_blocks=1, d_base=4, d_layers=1), info)
    m = CycleGAN(CycleGANConfig(base=4, n_blocks=1, d_base=4, d_layers=1, identity_weight=0), info)
    y = m.translate(torch.rand(2, 1, 8, 8), "AtoB")
    assert y.shape == (2, 3, 8, 8) and 0 <= y.min() and y.max() <= 1
    assert m.translate(y, "BtoA").shape == (2, 1, 8, 8)
    with pytest.raises(GenlabError, match="direction"):
        m.translate(y, "sideways")


def test_cli_trains_on_an_unpaired_folder_and_writes_a_preview(tmp_path, capsys):
    from PIL import Image

    rng = np.random.RandomState(0)
    root = tmp_path / "unpaired"
    for sub, n in (("trainA", 8), ("testA", 8), ("trainB", 5), ("testB", 5)):
        (root / sub).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.randint(0, 256, (16, 16), dtype=np.uint8)).save(root / sub / f"{i}.png")
    out = tmp_path / "run"
    code = main(["train", "cyclegan", "--data", "folder-unpaired", f"--data.path={root}", "--train.steps=3",
                 "--train.batch_size=2", "--train.progress=false", "--model.base=4", "--model.n_blocks=1",
                 "--model.d_base=4", "--model.d_layers=1", "--model.pool_size=4", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert list((out / "samples").glob("*.png"))


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
    kw = dict(steps=6, dataset=data, model={"b": "b"})
    full = tiny_trainer("cyclegan", run_dir=tmp_path / "full", **kw)
    full.fit()
    part = tiny_trainer("cyclegan", run_dir=tmp_path / "part", **kw)
    part.callbacks = (_interrupt_at(2),)
    with pytest.raises(TrainingInterrupted):
        part.fit()
    resumed = tiny_trainer("cyclegan", run_dir=tmp_path / "part", **kw)
    resumed._load(ckpt.latest_checkpoint(tmp_path / "part"))
    assert resumed.step == 2 and resumed.model.pool_b.count.item() == 4  # the pool came back full
    resumed.fit()
    a, b = state(full.model), state(resumed.model)
    assert a.keys() == b.keys() and "pool_a.images" in a
    assert all(torch.equal(a[k], b[k]) for k in a)
