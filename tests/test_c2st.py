"""The classifier two-sample test (genlab.metrics.c2st): chance on real vs real, near-perfect on clearly
different sets, cross-fitting holds every example out once, images and non-square periodic fields, and
the Gaussian surrogate's spectrum."""
import io

import pytest
import torch

from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.metrics.c2st import C2STNet, c2st, gaussian_surrogate
from genlab.progress import Progress


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_real_vs_real_is_chance():
    x = load_dataset("grf", "train", size=16, n=1000).x  # (1000, 1, 16, 16), one distribution
    state = torch.random.get_rng_state()
    r = c2st(x[:500], x[500:], periodic=(1, 2), seed=0)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is left alone
    assert abs(r["accuracy"] - 0.5) < 0.06 and r["p_value"] > 0.01, r
    assert r["n_pairs"] == 500 and r["n_heldout"] == 1000  # 5 folds: every example held out once
    assert r["protocol"]["folds"] == 5 and "cross-fitting" in r["protocol"]["split"]
    assert len(r["fold_accuracy"]) == 5 and r["ci95"][0] < 0.5 < r["ci95"][1]


def test_grf_vs_lognormal_of_the_same_spectrum_is_told_apart():
    grf = load_dataset("grf", "train", size=16, n=300, slope=-2, sigma=0.02).x  # the lognormal's spectrum
    kappa = load_dataset("lognormal", "train", size=16, n=300).x
    r = c2st(grf, kappa, periodic=(1, 2), seed=1)
    assert r["accuracy"] >= 0.9 and r["p_value"] < 1e-6 and r["p_value_conservative"] < 1e-6, r


def test_images_in_minus_one_one_real_vs_real_and_vs_a_gaussian_surrogate():
    x = load_dataset("digits", "train").get(slice(None)) * 2 - 1  # (1497, 1, 8, 8) in [-1, 1]
    same = c2st(x[:600], x[600:1200], seed=0, holdout=0.5)
    assert abs(same["accuracy"] - 0.5) < 0.08 and same["p_value"] > 0.01, same
    assert same["n_pairs"] == 300 and same["protocol"]["folds"] == 1 and "holdout" in same["protocol"]["split"]
    blur = c2st(x[:300], gaussian_surrogate(x[300:], 300, seed=0), seed=0, max_epochs=8)  # same spectrum
    assert blur["accuracy"] >= 0.9 and blur["p_value"] < 1e-6, blur


def test_non_square_periodic_fields_and_determinism():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(48, 3, 32, 64, generator=g)
    fake = torch.randn(60, 3, 32, 64, generator=g) * 3  # unequal counts: balanced by subsampling
    a = c2st(real, fake, periodic=(2,), seed=3, max_epochs=2, folds=2)
    b = c2st(real, fake, periodic=(2,), seed=3, max_epochs=2, folds=2)
    assert a["n_pairs"] == 48 and a["correct"] == b["correct"] and a["fold_accuracy"] == b["fold_accuracy"]
    assert "mean over W" in a["protocol"]["architecture"] and a["protocol"]["periodic_axes"] == [2]
    log = io.StringIO()
    progress = Progress(0, "c2st", stream=log, final_line=False)
    assert c2st(real, fake, n_max=30, max_epochs=1, folds=2, progress=progress)["n_pairs"] == 30
    assert progress.done == progress.total == 2  # an epoch per fold


def test_network_keeps_bounded_axes_and_wraps_periodic_ones():
    net = C2STNet((3, 32, 64), periodic=(2,))
    x = torch.randn(2, 3, 32, 64)
    with torch.no_grad():
        assert net(x).shape == (2,)
        assert torch.allclose(net(x), net(x.roll(16, dims=3)), atol=1e-5)  # shift by 16 = 2^4: invariant
        assert C2STNet((1, 28, 28))(torch.randn(3, 1, 28, 28)).shape == (3,)


@pytest.mark.parametrize("real,fake,kw,needle", [
    (torch.zeros(30, 1, 8, 8), torch.zeros(30, 1, 8, 9), {}, "one shape"),
    (torch.zeros(30, 64), torch.zeros(30, 64), {}, "(N, C, H, W)"),
    (torch.zeros(10, 1, 8, 8), torch.zeros(10, 1, 8, 8), {}, "too few"),
    (torch.zeros(30, 1, 8, 8), torch.zeros(30, 1, 8, 8), {"periodic": (0,)}, "periodic axes"),
    (torch.zeros(30, 1, 8, 8), torch.zeros(30, 1, 8, 8), {"holdout": 1.5}, "holdout"),
    (torch.full((30, 1, 8, 8), float("nan")), torch.zeros(30, 1, 8, 8), {}, "NaN"),
])
def test_bad_inputs_are_one_line_errors(real, fake, kw, needle):
    with pytest.raises(GenlabError, match=None) as e:
        c2st(real, fake, **kw)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_gaussian_surrogate_has_the_mean_field_and_power_spectrum():
    g = torch.Generator().manual_seed(0)
    ramp = torch.linspace(-1, 1, 16).view(1, 1, 16, 1)  # a mean field that depends on H
    x = load_dataset("lognormal", "train", size=16, n=400).x * 50 + ramp  # (400, 1, 16, 16)
    x = torch.cat([x, torch.randn(400, 1, 16, 16, generator=g) * 2], 1)  # a second channel: white noise
    y = gaussian_surrogate(x, 4000, seed=1)
    assert y.shape == (4000, 2, 16, 16) and y.dtype == torch.float32
    assert torch.equal(y, gaussian_surrogate(x, 4000, seed=1))
    p_x = (torch.fft.fft2(x.double()).abs() ** 2).mean(0)  # (2, 16, 16), the raw mean power spectrum
    p_y = (torch.fft.fft2(y.double()).abs() ** 2).mean(0)
    k = torch.fft.fftfreq(16, 1 / 16)
    kr = (k[:, None] ** 2 + k[None, :] ** 2).sqrt().round().long()
    for c in range(2):
        for b in range(1, 9):  # radial bins of width 1: within 3 %
            sel = kr == b
            assert abs(p_y[c][sel].mean() / p_x[c][sel].mean() - 1) < 0.03, (c, b)
    assert (y.mean(0) - x.mean(0)).abs().max() < 0.1 * x.std()
    skew = lambda t: (((t - t.mean()) / t.std()) ** 3).mean()  # noqa: E731
    assert skew(x[:, 0]) > 1 and abs(skew(y[:, 0])) < 0.1  # the log-normal's skewness is gone
