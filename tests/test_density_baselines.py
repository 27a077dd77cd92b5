"""KDE and GMM baselines: agreement with scikit-learn, normalisation, the PCA-space density, the
fit-in-the-first-phase design, and likelihood evaluation on digits."""
import math

import numpy as np
import torch

from genlab.data import load_dataset
from genlab.metrics.likelihood import evaluate
from genlab.models.base import DataInfo
from genlab.models.density.gmm import GMM, GMMConfig
from genlab.models.density.kde import KDE, KDEConfig

from helpers import tiny_trainer


def two_gaussians(split, n, dim=1):
    return load_dataset("two-gaussians", split, n=n, dim=dim).all()


def true_log_density_1d(x):
    """0.3 N(0, 1) + 0.7 N(5, 1)."""
    c = -0.5 * math.log(2 * math.pi)
    return torch.logsumexp(torch.stack([math.log(0.3) + c - 0.5 * x ** 2,
                                        math.log(0.7) + c - 0.5 * (x - 5) ** 2]), 0)


def test_kde_matches_sklearn_and_integrates_to_one():
    from sklearn.neighbors import KernelDensity

    x = two_gaussians("train", 400)
    kde = KDE(KDEConfig(max_points=400), DataInfo((1,)))
    kde.fit(x, torch.Generator().manual_seed(0))
    h = math.exp(kde.log_bandwidth.item())
    assert 0.1 < h < 2.0
    q = two_gaussians("test", 50)
    ref = KernelDensity(bandwidth=h).fit(x.double().numpy()).score_samples(q.double().numpy())
    assert np.allclose(-kde.nll(q).numpy(), ref, atol=1e-4)
    grid = torch.linspace(-8, 13, 4201).view(-1, 1)
    mass = torch.exp(-kde.nll(grid)).sum().item() * 21 / 4200
    assert 0.99 < mass < 1.01


def test_gmm_recovers_two_gaussians():
    x = two_gaussians("train", 2000)
    gmm = GMM(GMMConfig(components=(1, 2, 3, 4)), DataInfo((1,)))
    gmm.fit(x, torch.Generator().manual_seed(0))
    q = two_gaussians("test", 2000)
    ours = gmm.nll(q).mean().item()
    truth = -true_log_density_1d(q[:, 0]).mean().item()
    assert abs(ours - truth) < 0.02  # held-out NLL within 0.02 nats of the true density's
    assert gmm.active.sum().item() >= 2
    grid = torch.linspace(-8, 13, 4201).view(-1, 1)
    mass = torch.exp(-gmm.nll(grid)).sum().item() * 21 / 4200
    assert 0.99 < mass < 1.01


def test_pca_space_gaussian_equals_ppca():
    """One full-covariance component in whitened PCA space + the residual Gaussian is the
    probabilistic PCA density, which scikit-learn's PCA.score_samples computes independently."""
    from sklearn.decomposition import PCA

    data = load_dataset("digits", "train")
    x = data.get(slice(0, 600))
    g = torch.Generator().manual_seed(0)
    gmm = GMM(GMMConfig(space="pca", pca_dim=10, components=(1,), reg_covar=0.0), data.info)
    gmm.fit(x, g)
    g2 = torch.Generator().manual_seed(0)
    torch.randint(0, 2 ** 31 - 1, (1,), generator=g2)  # the seed draw inside fit
    y = gmm._continuous(x, g2).double()  # the same dequantised data the model was fitted on
    pca = PCA(10, svd_solver="full").fit(y.numpy())  # exact (randomized SVD used global RNG state)
    ref = pca.score_samples(y[:50].numpy())
    ours = -gmm.nll(y[:50]).double().numpy()
    # PCA uses the n−1 variance, the Gaussian fit the n one: a relative 1/600 difference per dimension
    assert np.allclose(ours, ref, atol=0.1)
    assert abs(ours.mean() - ref.mean()) < 0.05


def test_fit_happens_in_the_first_phase_then_gradient_refines():
    tr = tiny_trainer("kde", steps=1)
    assert tr.model.fitted.item() == 0
    tr.fit()
    assert tr.model.fitted.item() == 1
    h = tr.model.log_bandwidth.item()
    tr2 = tiny_trainer("gmm", steps=3)
    tr2.fit()
    assert tr2.model.fitted.item() == 1 and tr2.model.active.sum() >= 1
    assert math.isfinite(h)


def test_digits_evaluation_beats_uniform():
    for name in ("kde", "gmm"):
        tr = tiny_trainer(name, steps=1, train={"batch_size": 128}, model={"pca_dim": 8})
        tr.fit()
        model = tr.model.eval()
        res = evaluate(model, load_dataset("digits", "test").subset(100), seed=0)
        assert "uniform dequantisation (k+u)/17" in res["protocol"]["likelihood_convention"]
        assert 1.0 < res["test_nll_bpd"] < math.log2(17), (name, res)
        s = model.sample(5, generator=torch.Generator().manual_seed(0))
        assert s.shape == (5, 1, 8, 8) and s.min() >= 0 and s.max() <= 1


def test_cli_train_eval_density_figure(tmp_path, capsys):
    from genlab.cli.main import main

    run = tmp_path / "kde"
    assert main(["train", "kde", "--data", "two-gaussians", "--out", str(run), "--data.n=300",
                 "--train.batch_size=300", "--train.progress=false", "--model.max_points=300"]) == 0
    assert main(["eval", str(run), "--n", "200"]) == 0
    out = capsys.readouterr().out
    assert "test_nll_bpd" in out and "differential density" in out
    fig = tmp_path / "fig.png"
    assert main(["density", str(run), "--out", str(fig), "-n", "200", "--grid", "40"]) == 0
    assert fig.stat().st_size > 1000
    assert main(["complete", str(run), "--out", str(tmp_path / "c.png")]) == 2  # KDE cannot complete
