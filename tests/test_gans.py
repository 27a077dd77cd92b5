"""GAN models: every loss x {gan, dcgan} through the trainer's phases, the knobs, sizes, the divergence
guard, and the CLI round trip on a toy."""
from pathlib import Path

import pytest
import torch

from genlab.errors import GenlabError
from genlab.models.base import Batch, DataInfo
from genlab.models.gans.dcgan import DCGAN, DCGANConfig
from genlab.models.gans.gan import GAN, GANConfig
from genlab.registry import LOSSES
from genlab.runs import load_run

from helpers import tiny_trainer


def _zero_grads(tr):
    for ps in tr.groups.values():
        for p in ps:
            p.grad = None


@pytest.mark.parametrize("model", ["gan", "dcgan"])
@pytest.mark.parametrize("loss", list(LOSSES))
def test_each_loss_steps_only_its_group(model, loss):
    tr = tiny_trainer(model, model={"loss": loss, "n_critic": 1})
    batch = tr.batcher.next(tr.noise)
    names = [p.group for p in tr.model.phases(0)]
    assert names == ["discriminator", "generator"]
    for phase in tr.model.phases(0):
        before = {id(p): p.detach().clone() for ps in tr.groups.values() for p in ps}
        _zero_grads(tr)
        out = tr._run_phase(phase, batch)
        assert torch.isfinite(out["loss"]), f"{model}/{loss}: non-finite {phase.group} loss"
        other = "generator" if phase.group == "discriminator" else "discriminator"
        assert any(not torch.equal(before[id(p)], p) for p in tr.groups[phase.group]), \
            f"{model}/{loss}: {phase.group} phase moved none of its parameters"
        for p in tr.groups[other]:
            assert torch.equal(before[id(p)], p), f"{model}/{loss}: {phase.group} phase moved {other}"
            assert p.grad is None, f"{model}/{loss}: frozen {other} received a gradient"


def test_n_critic_and_loss_default():
    assert [p.every for p in tiny_trainer("gan", model={"loss": "wgan"}).model.phases(0)] == [1, 5]
    # gan's own per-loss default for wgan-gp (loss_defaults) replaces the loss's recommendation of 5
    assert [p.every for p in tiny_trainer("gan", model={"loss": "wgan-gp"}).model.phases(0)] == [1, 2]
    assert [p.every for p in tiny_trainer("gan", model={"n_critic": 3}).model.phases(0)] == [1, 3]
    tr = tiny_trainer("gan", model={"n_critic": 2}, steps=4)
    seen = []
    orig = tr._run_phase
    tr._run_phase = lambda phase, batch: seen.append((tr.step, phase.group)) or orig(phase, batch)
    tr.fit()
    assert [s for s, g in seen if g == "generator"] == [0, 2]
    assert [s for s, g in seen if g == "discriminator"] == [0, 1, 2, 3]


def test_wgan_clips_discriminator_before_each_d_update():
    tr = tiny_trainer("gan", model={"loss": "wgan"})
    with torch.no_grad():
        for p in tr.model.discriminator.parameters():
            p.fill_(0.5)
    batch = tr.batcher.next(tr.noise)
    tr.model.d_loss(batch)
    assert all(p.abs().max() <= 0.01 for p in tr.model.discriminator.parameters())


def test_began_updates_k_and_logs_m_global():
    tr = tiny_trainer("dcgan", model={"loss": "began", "began_lambda_k": 0.5})
    model = tr.model
    assert "control.k" in model.state_dict()  # k_t is saved with the weights
    out = model.d_loss(tr.batcher.next(tr.noise))
    assert {"k", "m_global"} <= set(out) and out["k"].item() == 0.0
    assert 0.0 < model.control.k.item() <= 1.0  # γ L(x) − L(G(z)) > 0 at init: k grows
    assert out["m_global"].item() > 0


def test_label_smoothing_needs_a_loss_with_labels():
    with pytest.raises(GenlabError, match="label_smoothing"):
        tiny_trainer("gan", model={"loss": "wgan", "label_smoothing": 0.1})
    with pytest.raises(GenlabError, match="model.loss='nope'"):
        tiny_trainer("gan", model={"loss": "nope"})


def test_knobs_change_the_d_loss_and_train():
    base = tiny_trainer("gan")
    batch = base.batcher.next(base.noise)
    ref = base.model.d_loss(Batch(batch.x, None, torch.Generator().manual_seed(0)))["loss"].item()
    for knob in ({"label_smoothing": 0.2}, {"label_flip": 0.4}, {"instance_noise": 0.5}):
        tr = tiny_trainer("gan", model=knob)
        got = tr.model.d_loss(Batch(batch.x, None, torch.Generator().manual_seed(0)))["loss"].item()
        assert got != pytest.approx(ref, rel=1e-4), knob
        tr.fit()


def test_instance_noise_anneals_to_zero():
    tr = tiny_trainer("gan", model={"instance_noise": 1.0, "noise_anneal_steps": 10})
    batch = tr.batcher.next(tr.noise)
    late = tr.model.d_loss(Batch(batch.x, None, torch.Generator().manual_seed(0)), step=10)["loss"]
    plain = tiny_trainer("gan").model.d_loss(Batch(batch.x, None, torch.Generator().manual_seed(0)))["loss"]
    assert late.item() == pytest.approx(plain.item(), rel=1e-6)


def test_spectral_norm_bounds_discriminator_weights():
    tr = tiny_trainer("dcgan", model={"spectral_norm": True}, steps=3)
    tr.fit()
    names = [k for k in tr.model.state_dict() if k.startswith("discriminator") and "parametrizations" in k]
    assert names, "no spectral-norm parametrisation on D"
    lin = [m for m in tr.model.discriminator.modules() if isinstance(m, torch.nn.Linear)][-1]
    sigma = torch.linalg.matrix_norm(lin.weight.detach(), ord=2).item()
    assert 0.5 < sigma < 1.5


def test_ttur_betas_and_ema_sampling(tmp_path):
    tr = tiny_trainer("gan", run_dir=tmp_path / "run", steps=3,
                      train={"group_lr": {"discriminator": 4e-4, "generator": 1e-4}, "betas": (0.0, 0.9),
                             "ema": 0.5})
    assert tr.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(4e-4)
    assert tr.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-4)
    assert tr.optimizers["generator"].param_groups[0]["betas"] == (0.0, 0.9)
    assert set(tr.ema.shadow) == {"generator"}
    tr.fit()
    with_ema = load_run(tmp_path / "run")
    live = load_run(tmp_path / "run", use_ema=False)
    assert with_ema.ema and not live.ema
    a = with_ema.model.sample(8, generator=torch.Generator().manual_seed(0))
    b = live.model.sample(8, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(a, b)
    assert torch.equal(with_ema.model.generator.net[0].weight, tr.ema.shadow["generator"]["net.0.weight"])


@pytest.mark.parametrize("arch,shape", [("dcgan", (1, 28, 28)), ("dcgan", (3, 32, 32)), ("dcgan", (3, 64, 64)),
                                        ("dcgan", (1, 8, 8)), ("infogan", (1, 28, 28))])
def test_dcgan_sizes(arch, shape):
    torch.manual_seed(0)
    cfg = DCGANConfig(arch=arch, latent_dim=8, g_channels=4, d_channels=4)
    model = DCGAN(cfg, DataInfo(shape, 256)).eval()
    x = model.sample(2, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, *shape) and x.min() >= 0 and x.max() <= 1
    assert model.discriminator(x * 2 - 1).shape == (2, 1)


def test_dcgan_infogan_matches_lucic_layout_and_norm_auto():
    model = DCGAN(DCGANConfig(arch="infogan"), DataInfo((1, 28, 28), 256))
    convs = [m for m in model.discriminator if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs] == \
        [(1, 64, (4, 4), (2, 2)), (64, 128, (4, 4), (2, 2))]
    lin = [m for m in model.generator if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(64, 1024), (1024, 128 * 7 * 7)]
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.discriminator.modules())
    gp = DCGAN(DCGANConfig(arch="infogan", loss="wgan-gp"), DataInfo((1, 28, 28), 256))
    assert not any(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))
                   for m in gp.discriminator.modules())


def test_dcgan_rejects_vectors():
    with pytest.raises(GenlabError, match="images or fields"):
        DCGAN(DCGANConfig(), DataInfo((2,)))
    assert GAN(GANConfig(), DataInfo((2,))).sample(3).shape == (3, 2)


def test_nan_loss_stops_and_keeps_a_loadable_checkpoint(tmp_path, monkeypatch):
    tr = tiny_trainer("gan", run_dir=tmp_path / "run", steps=8, train={"ckpt_every": 2, "log_every": 1})
    real_g = tr.model.g_loss

    def poisoned(batch, *, step=0):
        out = real_g(batch, step=step)
        if step >= 3:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(tr.model, "g_loss", poisoned)
    with pytest.raises(GenlabError, match="diverged.*step 2"):
        tr.fit()
    run = load_run(tmp_path / "run")
    assert run.step == 2
    x = run.model.sample(16, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(x).all()


def test_cli_train_sample_eval_on_ring8(tmp_path, capsys):
    from genlab.cli.main import main

    run = tmp_path / "run"
    rc = main(["train", "gan", "--data", "ring8", "--out", str(run), "--train.steps=20", "--train.progress=false",
               "--train.batch_size=32", "--model.g_hidden=16", "--model.d_hidden=16", "--data.n=500"])
    assert rc == 0 and (run / "model.safetensors").is_file() and list((run / "samples").glob("*.png"))
    assert main(["sample", str(run), "-n", "16", "--out", str(tmp_path / "s.npy")]) == 0
    import numpy as np

    assert np.load(tmp_path / "s.npy").shape == (16, 2)
    assert main(["sample", str(run), "-n", "16", "--out", str(tmp_path / "s.png")]) == 0  # a scatter plot
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert main(["eval", str(run), "--n", "500"]) == 0
    out = capsys.readouterr().out
    assert "modes_covered:" in out and "modes_total: 8" in out and "hq_fraction:" in out


def test_pack_concatenates_consecutive_examples():
    from genlab.models.gans.tricks import pack

    x = torch.arange(14.0).view(7, 2)
    p = pack(x, 3)  # 7 examples -> 2 packs of 3, the 7th dropped
    assert p.shape == (2, 6)
    assert torch.equal(p[0], torch.tensor([0.0, 1, 2, 3, 4, 5]))
    assert torch.equal(p[1], torch.tensor([6.0, 7, 8, 9, 10, 11]))
    assert pack(x, 1) is x
    img = torch.randn(4, 1, 3, 3)
    assert torch.equal(pack(img, 2)[1], torch.cat([img[2], img[3]], 0))  # channels concatenated
    with pytest.raises(ValueError, match="model.pack=8"):
        pack(x, 8)


def test_pack_must_be_positive():
    with pytest.raises(GenlabError, match=r"model.pack=0 is invalid; expected >= 1"):
        tiny_trainer("gan", model={"pack": 0})


@pytest.mark.parametrize("loss", ["nonsaturating", "hinge"])
def test_packed_d_loss_equals_the_loss_on_concatenated_pairs(loss):
    tr = tiny_trainer("gan", model={"loss": loss, "pack": 2})
    model = tr.model
    assert model.discriminator.net[0].in_features == 4  # 2 samples x 2 coordinates
    x = tr.batcher.next(tr.noise).x[:15]  # odd batch: the last example is dropped
    got = model.d_loss(Batch(x, None, torch.Generator().manual_seed(3)))["loss"]
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        fake = model.generator(torch.randn((15, model.config.latent_dim), generator=g))
        d_real = model.discriminator(torch.cat([x[0:14:2], x[1:14:2]], 1)).reshape(-1)  # (7,)
        d_fake = model.discriminator(torch.cat([fake[0:14:2], fake[1:14:2]], 1)).reshape(-1)
    want = LOSSES[loss].d(d_real, d_fake)
    assert got.item() == pytest.approx(want.item(), rel=1e-5, abs=1e-6)
    unpacked = tiny_trainer("gan", model={"loss": loss}).model.d_loss(
        Batch(x, None, torch.Generator().manual_seed(3)))["loss"]
    assert got.item() != pytest.approx(unpacked.item(), rel=1e-3)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_trains_with_packing(loss):
    tr = tiny_trainer("gan", model={"loss": loss, "pack": 3, "n_critic": 1}, steps=2)
    shapes = []
    tr.model.discriminator.register_forward_pre_hook(lambda mod, args: shapes.append(tuple(args[0].shape)))
    before = {k: v.clone() for k, v in tr.model.state_dict().items()}
    tr.fit()
    assert shapes and set(shapes) == {(5, 6)}  # batch 16 -> 5 packs of 3 two-d points
    after = tr.model.state_dict()
    for net in ("generator", "discriminator"):
        assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith(net)), (loss, net)
        assert all(torch.isfinite(after[k]).all() for k in after if k.startswith(net)), (loss, net)
    assert tr.model.sample(4).shape == (4, 2)


def test_toy_benchmark_scores_like_genlab_eval(tmp_path):
    """benchmarks/toy_modes.py must train and sample as `genlab train` + `genlab sample/eval` do, with the
    EMA weights of G."""
    import importlib.util
    import json

    import numpy as np

    from genlab.cli.main import main

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "toy_modes.py"
    spec = importlib.util.spec_from_file_location("toy_modes", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    small = {"model": {"g_hidden": 16, "d_hidden": 16, "pack": 2},
             "train": {"ema": 0.9, "batch_size": 64, "lr_schedule": "linear", "warmup": 0}}
    threads = torch.get_num_threads()
    try:
        got = bench.one_run("hinge", "ring8", 1, 30, 1, extra=small)
        run = tmp_path / "run"
        args = ["train", "gan", "--data", "ring8", "--out", str(run), "--model.loss=hinge", "--train.seed=1",
                "--train.steps=30", "--train.progress=false", "--train.threads=1"]
        args += [f"--{s}.{k}={v}" for s in small for k, v in small[s].items()]
        assert main(args) == 0
    finally:
        torch.set_num_threads(threads)
    assert main(["sample", str(run), "-n", "2500", "--out", str(tmp_path / "ema.npy")]) == 0
    assert main(["sample", str(run), "-n", "2500", "--no-ema", "--out", str(tmp_path / "live.npy")]) == 0
    ema, live = np.load(tmp_path / "ema.npy"), np.load(tmp_path / "live.npy")
    assert np.array_equal(got["samples"].numpy(), ema)
    assert not np.allclose(ema, live, atol=1e-3)  # the EMA weights really differ from the live ones
    assert main(["eval", str(run), "--json", str(tmp_path / "e.json")]) == 0
    want = json.loads((tmp_path / "e.json").read_text())
    assert want["ema"] is True
    assert got["hq_fraction"] == pytest.approx(want["modes"]["hq_fraction"], abs=1e-12)
    assert got["modes_covered"] == want["modes"]["modes_covered"]


def test_gan_default_config_is_the_documented_toy_config():
    """docs/gans.md and docs/benchmarks-gans.md report figures for exactly this default config."""
    from genlab.config import resolve

    cfg = resolve("gan", [{"data": {"name": "ring8"}}])
    t = cfg.train
    assert (t.steps, t.batch_size, t.lr, t.betas) == (10000, 512, 5e-3, (0.5, 0.9))
    assert t.group_lr == {"discriminator": 3e-3}
    assert (t.lr_schedule, t.warmup, t.ema, t.precision) == ("cosine", 100, 0.999, "fp32")
    m = cfg.model
    assert (m.loss, m.latent_dim, m.g_hidden, m.d_hidden, m.depth, m.pack) == ("nonsaturating", 16, 128, 128, 3, 1)
    tr = tiny_trainer("gan", steps=3, train={"steps": 10000})
    assert tr.lr_factor(0) == pytest.approx(0.01) and tr.lr_factor(99) == pytest.approx(1.0)
    assert tr.lr_factor(9999) == pytest.approx(0.0, abs=1e-6)


def test_pack_larger_than_the_batch_is_a_one_line_error_before_any_file(tmp_path, capsys):
    from genlab.cli.main import main

    run = tmp_path / "run"
    code = main(["train", "gan", "--data", "ring8", "--out", str(run), "--model.pack=64", "--train.batch_size=32",
                 "--train.steps=1", "--train.progress=false"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not run.exists()
    assert err.count("\n") == 0 and "model.pack=64" in err and "train.batch_size=32" in err


def test_unknown_group_lr_is_a_one_line_error_before_any_file(tmp_path, capsys):
    from genlab.cli.main import main

    run = tmp_path / "run"
    code = main(["train", "gan", "--data", "ring8", "--out", str(run), "--train.group_lr.critic=1e-3",
                 "--train.steps=1", "--train.progress=false"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not run.exists()
    assert err == ("genlab: error: train.group_lr names group(s) ['critic']; this model's groups are "
                   "['discriminator', 'generator']")
