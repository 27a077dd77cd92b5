"""Closed forms and independent references for the functional metric cores (genlab.metrics.functional)."""
import numpy as np
import pytest
import scipy.linalg
import torch

from genlab.errors import GenlabError
from genlab.metrics import functional as F


def _gauss(n, d, mu=0.0, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) * scale + mu


def _scipy_fid(x, y):
    """pytorch-fid style reference: scipy.linalg.sqrtm of the covariance product."""
    x, y = x.numpy(), y.numpy()
    m1, m2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _numpy_mmd2(x, y):
    """Unbiased MMD^2 with the cubic kernel, written with explicit off-diagonal masks."""
    x, y = x.numpy(), y.numpy()
    d, m = x.shape[1], len(x)
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    off = ~np.eye(m, dtype=bool)
    return k(x, x)[off].mean() + k(y, y)[off].mean() - 2 * k(x, y).mean()


def test_fid_of_identical_sets_is_zero():
    x = _gauss(500, 16)
    assert abs(F.fid(x, x)) < 1e-8


def _whitened(n, d, mu, seed):
    """Samples of N(mu, I) adjusted so their sample mean is exactly mu and sample covariance exactly I."""
    z = _gauss(n, d, seed=seed)
    z = z - z.mean(0)
    cov = z.T @ z / (n - 1)
    return z @ torch.linalg.inv(torch.linalg.cholesky(cov)).T + mu


def test_fid_gaussians_closed_form():
    d, n = 8, 2000
    mu1, mu2 = torch.zeros(d, dtype=torch.float64), torch.linspace(-1, 1, d, dtype=torch.float64)
    x, y = _whitened(n, d, mu1, seed=1), _whitened(n, d, mu2, seed=2)
    expected = float((mu1 - mu2).square().sum())  # ||mu1 - mu2||^2 = 3.43 (equal identity covariances)
    assert F.fid(x, y) == pytest.approx(expected, rel=1e-9)
    # raw draws (no whitening): within sampling error of the closed form
    xr, yr = _gauss(20000, d, seed=3), _gauss(20000, d, mu2, seed=4)
    assert F.fid(xr, yr) == pytest.approx(expected, abs=0.1)


def test_frechet_distance_exact_from_statistics():
    # N(mu1, I) vs N(mu2, 4I): ||mu1-mu2||^2 + d (1 + 4 - 2*2) = ||.||^2 + d
    d = 5
    mu1, mu2 = torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    assert F.frechet_distance(mu1, eye, mu2, 4 * eye) == pytest.approx(d + d, rel=1e-12)


def test_fid_matches_scipy_reference():
    x = _gauss(400, 32, seed=3)
    y = _gauss(300, 32, mu=0.3, seed=4, scale=1.5)
    ours, ref = F.fid(x, y), _scipy_fid(x, y)
    assert ours == pytest.approx(ref, rel=1e-6)
    assert ref > 10  # the sets differ: not a trivially small number
    # the cached-reference path (precomputed mean, covariance and its square root) gives the same number
    st = F.reference_stats(x)
    assert torch.allclose(st["sigma_sqrt"] @ st["sigma_sqrt"], st["sigma"], atol=1e-10)
    assert F.fid(x, y, real_stats=st) == pytest.approx(ref, rel=1e-6)
    assert F.fid(x, y, real_stats=F.reference_stats(y)) < 1e-6  # stats really are used: y vs y


def test_kid_matches_numpy_reference_and_is_unbiased():
    x, y = _gauss(200, 16, seed=5), _gauss(200, 16, mu=0.5, seed=6)
    mean, std = F.kid(x, y, subsets=1, subset_size=200)  # one subset = the whole sets
    assert mean == pytest.approx(_numpy_mmd2(x, y), rel=1e-6)
    assert std == 0.0
    # equal distributions: over independent draws the unbiased estimate averages to 0 within its
    # standard error, while the biased (V-statistic) version is clearly positive
    est, biased = [], []
    for i in range(200):
        a, b = _gauss(50, 4, seed=100 + 2 * i), _gauss(50, 4, seed=101 + 2 * i)
        est.append(F.kid(a, b, subsets=1, subset_size=50)[0])
        k = lambda u, v: (u @ v.T / 4 + 1) ** 3  # noqa: E731
        biased.append(float(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()))
    est, biased = np.array(est), np.array(biased)
    se = est.std() / np.sqrt(len(est))
    assert abs(est.mean()) < 3 * se
    assert biased.mean() > 10 * se
    m, s = F.kid(_gauss(1000, 16, seed=7), _gauss(1000, 16, seed=8) + 0.5, subsets=10, subset_size=200)
    assert m > 5 * s > 0


def test_precision_recall_hand_built():
    # real: 10 points on a line 0..9 (3rd-NN radius 2 for interior, 3 at the ends)
    real = torch.arange(10, dtype=torch.float64)[:, None]
    inside = torch.tensor([[0.5], [4.0], [8.5]], dtype=torch.float64)
    far = torch.tensor([[100.0], [101.0], [102.0], [103.0]], dtype=torch.float64)
    fake = torch.cat([inside, far])
    p, r = F.precision_recall(real, fake, k=3)
    assert p == pytest.approx(3 / 7)
    # fake 3-NN radii: inside points have radius >= 95.5 -> they cover all real points
    assert r == pytest.approx(1.0)
    p2, r2 = F.precision_recall(real, far, k=3)
    assert (p2, r2) == (0.0, 0.0)  # far cluster radius 3 reaches only 97..106


def test_density_coverage_hand_built():
    real = torch.arange(10, dtype=torch.float64)[:, None]  # 5-NN radius: 5 at interior-ish, up to 9 at ends
    radii = F.knn_radii(real, 5)
    assert radii.tolist() == [5, 4, 3, 3, 3, 3, 3, 3, 4, 5]
    fake = torch.tensor([[4.5], [50.0]], dtype=torch.float64)
    dens, cov = F.density_coverage(real, fake, k=5)
    # 4.5 lies in the balls of real points 1..8 (|4.5-i| <= r_i) and 0 (|4.5| <= 5) and 9 (4.5 <= 5): 10 balls
    assert dens == pytest.approx(10 / (5 * 2))
    assert cov == pytest.approx(1.0)
    dens2, cov2 = F.density_coverage(real, torch.tensor([[0.0], [50.0]], dtype=torch.float64), k=5)
    # 0 is inside balls of 0 (r5), 1 (r4), 2 (r3), 3 (r3): 4 balls; covered: the 4 real points whose ball holds it
    assert dens2 == pytest.approx(4 / 10) and cov2 == pytest.approx(4 / 10)


def test_inception_score_extremes():
    k = 10
    confident = torch.full((1000, k), -30.0, dtype=torch.float64)
    confident[torch.arange(1000), torch.arange(1000) % k] = 30.0  # one-hot, uniform marginal -> IS = K
    mean, std = F.inception_score(confident, splits=10)
    assert mean == pytest.approx(k, rel=1e-6) and std < 1e-6
    uniform = torch.zeros(500, k, dtype=torch.float64)  # p(y|x) = p(y) -> IS = 1
    assert F.inception_score(uniform)[0] == pytest.approx(1.0, abs=1e-12)


def test_too_few_samples_warns_and_bad_shapes_raise():
    with pytest.warns(UserWarning, match="singular"):
        F.fid(_gauss(10, 32, seed=1), _gauss(10, 32, seed=2))
    with pytest.raises(GenlabError, match="different extractors"):
        F.fid(_gauss(50, 4), _gauss(50, 5))
    with pytest.raises(GenlabError, match="non-empty"):
        F.fid(torch.zeros(0, 4), _gauss(5, 4))
    with pytest.raises(GenlabError, match="NaN"):
        F.kid(torch.full((5, 2), float("nan")), _gauss(5, 2))
