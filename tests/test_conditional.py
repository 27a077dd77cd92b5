"""Class-conditional models (cvae, cdcgan): phases move only their group under every adversarial loss,
labels condition the samples, bad conditions are one-line errors, the projection discriminator's formula,
the cvae bounds, and the generic eval on a cvae run."""
import json

import pytest
import torch

from genlab.cli.main import main
from genlab.errors import GenlabError
from genlab.models.base import Batch, DataInfo
from genlab.registry import LOSSES, MODELS

from helpers import state, tiny_trainer

torch.set_num_threads(1)
CONDITIONAL = ["cvae", "cdcgan"]


def _seed(s: int) -> torch.Generator:
    return torch.Generator().manual_seed(s)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_cdcgan_each_loss_steps_only_its_group(loss):
    tr = tiny_trainer("cdcgan", model={"loss": loss, "n_critic": 1})
    batch = tr.batcher.next(tr.noise)
    for phase in tr.model.phases(0):
        before = {id(p): p.detach().clone() for ps in tr.groups.values() for p in ps}
        for ps in tr.groups.values():
            for p in ps:
                p.grad = None
        out = tr._run_phase(phase, batch)
        assert torch.isfinite(out["loss"]), f"{loss}: non-finite {phase.group} loss"
        assert any(not torch.equal(before[id(p)], p) for p in tr.groups[phase.group]), (loss, phase.group)
        for g, ps in tr.groups.items():
            if g != phase.group:
                assert all(torch.equal(before[id(p)], p) and p.grad is None for p in ps), (loss, phase.group, g)


def test_cdcgan_embeddings_are_trained_in_their_own_phase():
    tr = tiny_trainer("cdcgan")
    batch = tr.batcher.next(tr.noise)
    d_phase, g_phase = tr.model.phases(0)
    d_embed, g_embed = tr.model.discriminator.embed.weight, tr.model.generator.embed.weight
    before = d_embed.detach().clone(), g_embed.detach().clone()
    tr._run_phase(d_phase, batch)
    assert not torch.equal(before[0], d_embed) and torch.equal(before[1], g_embed)
    tr._run_phase(g_phase, batch)
    assert not torch.equal(before[1], g_embed)


@pytest.mark.parametrize("name", CONDITIONAL)
def test_labels_condition_the_samples(name):
    model = tiny_trainer(name).model.eval()
    before = state(model)
    n = 10
    y = torch.arange(n)
    a = model.sample(n, generator=_seed(1), cond={"y": y})
    assert torch.equal(a, model.sample(n, generator=_seed(1), cond={"y": y}))  # same z, same y
    b = model.sample(n, generator=_seed(1), cond={"y": (y + 1) % 10})  # same z, other labels
    assert all(not torch.equal(a[i], b[i]) for i in range(n))
    # without cond the labels cycle 0..K-1; one int means that class for every sample
    assert torch.equal(model.sample(n, generator=_seed(1)), a)
    assert torch.equal(model.sample(3, generator=_seed(1), cond={"y": 7}),
                       model.sample(3, generator=_seed(1), cond={"y": torch.tensor([7, 7, 7])}))
    for k, v in state(model).items():
        assert torch.equal(before[k], v), f"{name}: sample changed {k}"


@pytest.mark.parametrize("name", CONDITIONAL)
@pytest.mark.parametrize("cond,what", [
    ({"y": torch.arange(3)}, "shape (3,)"),
    ({"y": torch.tensor([0, 1, 2, 10])}, "class 10"),
    ({"y": torch.tensor([0, -1, 2, 3])}, "class -1"),
    ({"y": torch.zeros(4)}, "dtype"),
    ({"label": torch.arange(4)}, "'label'"),
])
def test_bad_conditions_are_one_line_errors(name, cond, what):
    model = tiny_trainer(name).model.eval()
    with pytest.raises(GenlabError) as e:
        model.sample(4, generator=_seed(0), cond=cond)
    msg = str(e.value)
    assert what in msg and "\n" not in msg, msg


@pytest.mark.parametrize("name", CONDITIONAL)
def test_unlabelled_data_are_refused(name):
    cls, cfg = MODELS[name], MODELS.entry(name).meta["config"]()
    with pytest.raises(GenlabError, match="'y'"):
        cls.check_data(cfg, DataInfo((1, 8, 8), 17), model_name=name)


@pytest.mark.parametrize("name", CONDITIONAL)
def test_preview_has_one_row_per_class(name):
    model = tiny_trainer(name).model.eval()
    (panel,) = model.preview(None, n=64, generator=_seed(2))
    rows = torch.arange(10).repeat_interleave(10)  # a 10 x 10 grid, row r = class r
    assert torch.equal(panel.tensor, model.sample(100, generator=_seed(2), cond={"y": rows}))


def test_projection_discriminator_by_hand():
    tr = tiny_trainer("cdcgan", model={"loss": "hinge"})
    model = tr.model.eval()  # batch norm on running statistics: one function of x
    d = model.discriminator
    x = torch.rand((6, 1, 8, 8), generator=_seed(0)) * 2 - 1
    y = torch.tensor([0, 3, 3, 9, 5, 1])
    with torch.no_grad():
        phi = d.phi(x)  # (6, F)
        by_hand = phi @ d.psi.weight[0] + d.psi.bias[0] + (d.embed.weight[y] * phi).sum(1)
        out = d(x, y)
        assert out.shape == (6,)
        torch.testing.assert_close(out, by_hand)
        # the game's hook feeds D the batch's labels
        torch.testing.assert_close(model.discriminate(x, Batch(x, y)), by_hand)
        # the class term is what changes with y
        other = d(x, (y + 1) % 10)
        torch.testing.assert_close(out - other, ((d.embed.weight[y] - d.embed.weight[(y + 1) % 10]) * phi).sum(1))


def test_cdcgan_spectral_norm_covers_the_embedding():
    tr = tiny_trainer("cdcgan", model={"spectral_norm": True})
    from torch.nn.utils import parametrize

    assert parametrize.is_parametrized(tr.model.discriminator.embed)
    assert parametrize.is_parametrized(tr.model.discriminator.psi)
    tr.fit()


def test_cvae_elbo_is_minus_the_loss_at_beta_one():
    model = tiny_trainer("cvae", model={"beta": 1.0}).model
    tr_batch = tiny_trainer("cvae").batcher.next(_seed(0))
    x, y = tr_batch.x, tr_batch.y
    loss = model.loss(Batch(x, y, _seed(5)))["loss"]
    elbo = model.elbo(x, y=y, generator=_seed(5))
    assert elbo.shape == (len(x),)
    torch.testing.assert_close(elbo.mean(), -loss.detach())


def test_cvae_marginal_bounds():
    """Without labels: elbo(x) = Σ_y q(y|x)[log p(y) + ELBO(x|y) − log q(y|x)], nll(x) = −log mean_y p̂(x|y)."""
    model = tiny_trainer("cvae").model.eval()
    x = tiny_trainer("cvae").batcher.next(_seed(0)).x[:5]
    k = model.n_classes
    e = model.elbo(x, generator=_seed(3))
    nll = model.nll(x, generator=_seed(4), k=6, chunk=4)
    assert e.shape == nll.shape == (5,) and torch.isfinite(e).all() and torch.isfinite(nll).all()
    # the same draws, class by class (the marginal visits classes 0..K-1 in order)
    g = _seed(4)
    per = torch.stack([-model.nll(x, generator=g, k=6, chunk=4, y=torch.full((5,), c)) for c in range(k)])
    torch.testing.assert_close(nll, -(torch.logsumexp(per, 0) - torch.log(torch.tensor(float(k)))))
    # with the same draws: Σ_y q (log p(y) + ELBO_y − log q) ≤ logsumexp_y (ELBO_y − log K) ≤ max_y ELBO_y
    g = _seed(3)
    with torch.no_grad():
        per_elbo = torch.stack([model.elbo(x, generator=g, y=torch.full((5,), c)) for c in range(k)])
    assert (e <= per_elbo.max(0).values + 1e-4).all()


def test_cvae_run_evaluates_through_the_cli(tmp_path, capsys):
    run = tmp_path / "run"
    tiny_trainer("cvae", run_dir=run, steps=2).fit()
    assert main(["eval", str(run), "--n", "16", "--k", "3"]) == 0
    lik = json.loads((run / "metrics.json").read_text())["likelihood"]
    assert {"test_elbo_nats", "test_nll_iwae3_nats"} <= set(lik) and "test_rec_mse_per_dim" not in lik
    assert main(["reconstruct", str(run), "-n", "4", "--out", str(tmp_path / "r.png")]) == 2  # needs labels


def test_sample_cli_class_by_name_or_index(tmp_path, capsys):
    """`genlab sample RUN --class "ankle boot"` draws exactly what sample(n, cond={"y": 9}) draws."""
    import numpy as np

    from genlab.cli.main import main
    from genlab.runs import load_run

    run = tmp_path / "c"
    assert main(["train", "cdcgan", "--data", "fashion-mnist", "--data.limit=256", "--train.steps=2",
                 "--train.batch_size=16", "--model.g_channels=4", "--model.d_channels=4", "--model.latent_dim=8",
                 "--train.progress=false", "--out", str(run)]) == 0, capsys.readouterr().err
    assert main(["sample", str(run), "-n", "6", "--class", "ankle boot", "--seed", "4",
                 "--out", str(tmp_path / "boots.npy")]) == 0
    assert main(["sample", str(run), "-n", "6", "--class", "9", "--seed", "4", "--out", str(tmp_path / "nine.npy")]) == 0
    r = load_run(run)
    want = r.model.sample(6, generator=torch.Generator().manual_seed(4), cond={"y": torch.full((6,), 9)})
    got = np.load(tmp_path / "boots.npy")
    np.testing.assert_array_equal(got, want.numpy())
    np.testing.assert_array_equal(got, np.load(tmp_path / "nine.npy"))
    capsys.readouterr()
    assert main(["sample", str(run), "--class", "hat", "--out", str(tmp_path / "h.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'Ankle boot'" in err[0] and not (tmp_path / "h.npy").exists()
    assert main(["sample", str(run), "--class", "10", "--out", str(tmp_path / "h.npy")]) == 2
    assert "0..9" in capsys.readouterr().err
