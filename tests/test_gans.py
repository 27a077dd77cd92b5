"""GAN models: every loss x {gan, dcgan} through the trainer's phases, the knobs, sizes, the divergence
guard, and the CLI round trip on a toy."""
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
    assert [p.every for p in tiny_trainer("gan", model={"loss": "wgan-gp"}).model.phases(0)] == [1, 5]
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
    with pytest.raises(GenlabError, match="square images"):
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
    assert main(["eval", str(run), "--n", "500"]) == 0
    out = capsys.readouterr().out
    assert "modes_covered:" in out and "modes_total: 8" in out and "hq_fraction:" in out
