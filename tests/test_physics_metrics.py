"""Physics metrics of generated fields (genlab/metrics/physics.py, spectra.py, pixels.py, morphology.py,
convection.py) and their wiring in `genlab eval`. Two-sided numeric checks: a right input lands within the
bound and a wrong or perturbed one fails it."""
import json
import math

import numpy as np
import pytest
import torch
from scipy import special, stats

from genlab.cli.main import main
from genlab.data import load_dataset, simulators
from genlab.errors import GenlabError
from genlab.fields import FieldSpec
from genlab.metrics import convection as conv
from genlab.metrics import morphology as morph
from genlab.metrics import physics, pixels, spectra
from genlab.metrics.field_sets import FieldSet, from_dataset, from_samples
from genlab.sim import random_fields as rf
from helpers import tiny_trainer

RB = {"ra": 2e4, "size": 8, "n": 16}  # 16 x 8 x 16 snapshots in about a second (with RB_RUN below)


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        mp.setitem(simulators.RB_RUN, "spin_up", 10.0)  # tiny runs, as tests/test_simulators.py
        mp.setitem(simulators.RB_RUN, "spacing", 1.0)
        mp.setitem(simulators.RB_RUN, "runs", 2)
        yield


def _set(x, periodic=(1, 2), name="set", **kw) -> FieldSet:
    x = np.asarray(x, np.float64)
    return FieldSet(name, x, FieldSpec(x.shape[1:], "field", periodic=periodic, **kw))


def _err(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genlab: error:") and "\n" not in err, err
    return err


# --- spectrum ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["grf", "lognormal"])
def test_spectrum_recovers_the_simulators_spectrum(name):
    """512 maps of 32²: every bin k ≤ N/4 within 5 standard errors + 2 % of the requested spectrum (the
    issue's bar, < 10 %, holds too), with the convention of sim/random_fields.py to rounding; maps with 10 %
    more amplitude (21 % more power) fail the same bound in every bin."""
    d = load_dataset(name, size=32, n=512)
    sim = d.meta["simulation"]["spectrum"]
    target, modes = np.array(sim["power"]), np.array(sim["modes"])
    x = d.x.numpy().astype(np.float64)
    s = spectra.power_spectrum(x, periodic=(1, 2))
    assert s["method"] == "fft2" and s["n"] == 32
    assert np.array_equal(s["k"], sim["k"]) and np.array_equal(s["modes"], modes)
    np.testing.assert_allclose(s["power"][0], rf.radial_spectrum(x[:, 0])[1], rtol=1e-10)
    low = s["k"] <= 8
    se = 1 / np.sqrt(len(x) * modes / 2)  # relative standard error of a bin mean (Gaussian modes)
    err = spectra.relative_error(target, s["power"][0])
    assert np.all(err[low] < 5 * se[low] + 0.02), err[low]
    assert spectra.band_summary(s["k"], err, 32)["max_rel_err_k_le_n4"] < 0.1
    louder = spectra.relative_error(target, spectra.power_spectrum(1.1 * x)["power"][0])
    assert np.all(louder[low] > 5 * se[low] + 0.02) and np.all(louder[low] > 0.1)


def test_a_field_against_itself_is_zero_and_a_blurred_one_fails_at_high_k():
    x = load_dataset("grf", size=32, n=128).x.numpy().astype(np.float64)
    real = _set(x, name="grf")
    res, _ = physics.evaluate(real, real, physics.DEFAULT)
    v = res["spectrum"]["c0"]
    assert v["max_rel_err_all_k"] == 0 and v["max_rel_err_k_le_n4"] == 0
    h = res["histogram"]["c0"]
    assert h["ks"] == 0 and h["w1"] == 0 and h["chi2"] == 0
    assert all(res["minkowski"]["c0"][f"v{i}_max_gap"] == 0 for i in range(3)) and res["peaks"]["c0"]["max_gap"] == 0
    # a periodic 3 x 3 box blur: transfer (1 + 2 cos(2π m/N))/3 per axis, ~1 at k = 1, 1/3 on axis at k = N/4
    blur = sum(np.roll(x, (dy, dx), axis=(2, 3)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    res, curves = physics.evaluate(real, _set(blur, name="blurred"), ["spectrum"])
    e = np.asarray(curves["spectrum"]["c0"]["rel_err"])
    k = np.asarray(curves["spectrum"]["c0"]["k"])
    assert e[k == 1][0] < 0.06 and np.all(e[k >= 8] > 0.5)
    assert res["spectrum"]["c0"]["max_rel_err_all_k"] > 0.8 and res["spectrum"]["c0"]["max_rel_err_k_le_n4"] > 0.5


def test_one_periodic_axis_gives_line_spectra_and_none_a_hann_window():
    h, w, amp = 16, 32, 1.5
    rows = np.linspace(0.0, 1.0, h)[:, None]  # a profile along the bounded axis: only k = 0 of each line
    xs = np.arange(w)[None, :]
    x = (rows + amp * np.sin(2 * np.pi * 3 * xs / w))[None, None].repeat(4, 0)  # (4, 1, 16, 32)
    s = spectra.power_spectrum(x, periodic=(2,))
    assert s["method"] == "fft1" and s["n"] == w and len(s["k"]) == w // 2
    assert s["power"][0, 2] == pytest.approx(amp ** 2 * w / 4, rel=1e-12)  # |X_±3|² / W = (A W / 2)² / W
    assert np.all(np.delete(s["power"][0], 2) < 1e-20)
    noise = np.random.default_rng(0).normal(0, 2.0, (128, 1, 32, 32))
    for periodic, method in (((2,), "fft1"), ((), "fft2-hann")):  # white noise: P = σ² per mode
        p = spectra.power_spectrum(noise, periodic=periodic)
        # (k = 1 of the windowed spectrum is biased low by the mean removal: |Ŵ(1)|² / |Ŵ(0)|² ≈ 1/4 per axis)
        assert p["method"] == method and np.all(np.abs(p["power"][0, 1:] / 4.0 - 1) < 0.15), p["power"]
    # a ramp is not periodic: unwindowed it leaks into every k, the Hann window keeps it at low k
    ramp = np.broadcast_to(np.linspace(0, 1, 32)[None, :], (32, 32))[None, None] + 0 * noise[:1, :, :1, :1]
    hann = spectra.power_spectrum(ramp, periodic=())["power"][0]
    plain = spectra.power_spectrum(ramp, periodic=(1, 2))["power"][0]
    assert hann[-1] < 1e-3 * plain[-1] and plain[-1] > 1e-4


# --- pixel histograms -------------------------------------------------------------------------------

def test_histogram_distances_against_scipy_and_by_hand():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(300), 1.2 * rng.standard_normal(200) + 0.3
    d, p, w1 = pixels.ks_w1(a, b)
    assert d == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    assert w1 == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12)
    assert p == pytest.approx(stats.ks_2samp(a, b, method="asymp").pvalue, rel=1e-9)
    assert pixels.ks_w1(a, rng.standard_normal(200))[1] > 0.01  # the same distribution: no evidence
    c = rng.standard_normal(300)
    assert pixels.ks_w1(a, c)[2] == pytest.approx(np.abs(np.sort(a) - np.sort(c)).mean(), rel=1e-12)
    assert pixels.ks_w1(a, a + 0.5)[2] == pytest.approx(0.5, rel=1e-12) and pixels.ks_w1(a, a)[:3:2] == (0.0, 0.0)
    # χ² of fractions, by hand: (0.25² / 0.75) · 2 + 0.5² / 0.5
    assert pixels.chi2(np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.25, 0.5])) == pytest.approx(2 / 3)
    assert np.allclose(pixels.fractions(np.array([-10.0, 0.5, 10.0]), np.array([0.0, 1.0, 2.0])), [2 / 3, 1 / 3])
    u = rng.uniform(0, 1, 5000)
    same, _ = pixels.distances(u, rng.uniform(0, 1, 5000))
    apart, _ = pixels.distances(u, u + 10)
    assert same["chi2"] < 0.03 and apart["chi2"] > 1.8 and apart["ks"] == 1.0
    assert apart["w1"] == pytest.approx(10.0) and apart["w1_over_sigma"] == pytest.approx(10 / u.std())


# --- Minkowski functionals and peaks -----------------------------------------------------------------

def _disc(r, cy=31.5, cx=31.5, n=64):
    yy, xx = np.mgrid[:n, :n]
    return np.hypot(yy - cy, xx - cx) < r


@pytest.mark.parametrize("periodic", [(), (1, 2)])
def test_minkowski_functionals_of_known_shapes(periodic):
    area = 64 * 64
    shapes = {"disc": (_disc(10), math.pi * 100, 2 * math.pi * 10, 1),
              "annulus": (_disc(15) & ~_disc(8), math.pi * (225 - 64), 2 * math.pi * 23, 0),
              "two discs": (_disc(6, 15.5, 15.5) | _disc(6, 45.5, 45.5), 2 * math.pi * 36, 4 * math.pi * 6, 2)}
    for name, (b, a, length, chi) in shapes.items():
        v0, v1, v2 = (float(v[0]) * area for v in morph.functionals(b[None], periodic))
        assert v0 == pytest.approx(a, rel=0.02) and v1 == pytest.approx(length, rel=0.02), name
        assert v2 == chi, name
    stripe = np.zeros((64, 64), bool)
    stripe[10:20] = True  # rows 10..19, every column: wraps around the periodic W axis
    v0, v1, v2 = (float(v[0]) * area for v in morph.functionals(stripe[None], periodic))
    assert v0 == 640 and v1 == pytest.approx(math.pi / 4 * 2 * 64)  # the map's own edge is no boundary
    assert v2 == (0 if periodic else 1)
    corner = np.roll(_disc(10), (32, 32), axis=(0, 1))  # the disc cut by the map's edges into 4 quarters
    assert morph.counts(corner[None], periodic)[0][0] == 316
    assert float(morph.functionals(corner[None], periodic)[2][0]) * area == (1 if periodic else 4)
    full = np.ones((1, 8, 8), bool)
    assert [float(v[0]) for v in morph.functionals(full, periodic)] == [1.0, 0.0, (0.0 if periodic else 1 / 64)]
    if periodic:  # on the torus the complement of a disc has χ = 0 − 1
        assert float(morph.functionals(~_disc(10)[None], periodic)[2][0]) * area == -1


def test_minkowski_area_fraction_of_gaussian_fields_follows_erfc():
    """V0(ν) of a Gaussian field is ½ erfc(ν/√2): the grf maps follow it within 0.02, the skewed log-normal
    maps miss it by more than 0.05."""
    t = morph.THRESHOLDS
    for name, ok in (("grf", True), ("lognormal", False)):
        x = load_dataset(name, size=32, n=128).x.numpy()[:, 0].astype(np.float64)
        v0 = morph.minkowski(x, x.mean() + x.std() * t, (1, 2))[0].mean(0)
        gap = np.abs(v0 - 0.5 * special.erfc(t / math.sqrt(2))).max()
        assert (gap < 0.02) if ok else (gap > 0.05), (name, gap)


def test_peaks_on_a_constructed_field():
    x = np.zeros((1, 8, 8))
    x[0, 3, 3] = 1.2
    x[0, 5, 5] = 2.7
    x[0, 0, 0], x[0, 7, 7] = 2.0, 3.0  # diagonal neighbours across the corner of a torus
    assert morph.peaks(x, ()).sum() == 4
    assert morph.peaks(x, (1, 2)).sum() == 3 and not morph.peaks(x, (1, 2))[0, 0, 0]
    x[0, 3, 4] = 1.2  # a plateau is not a strict maximum
    assert not morph.peaks(x, (1, 2))[0, 3, 3]
    c = morph.peak_counts(x, 0.0, 1.0, (1, 2))[0]
    edges = morph.PEAK_EDGES
    assert c.sum() == 2 and c[np.searchsorted(edges, 2.7) - 1] == 1 and c[np.searchsorted(edges, 3.0, "right") - 1] == 1
    assert morph.peak_counts(np.full((1, 4, 4), 50.0), 0.0, 1.0).sum() == 0  # a constant map has none
    real, fake = _set(np.stack([x, x])), _set(np.zeros((2, 1, 8, 8)))  # (2, 1, 8, 8)
    v = physics.peaks(real, fake)[0]["c0"]
    assert (v["per_map_real"], v["per_map_fake"]) == (2.0, 0.0) and v["max_gap"] == 1.0  # floor: one peak


# --- convection -------------------------------------------------------------------------------------

def test_nusselt_of_conduction_is_one_and_needs_the_midpoint_grid():
    h, w = 8, 16
    z = (np.arange(h) + 0.5) / h
    t = np.broadcast_to((1 - z)[:, None], (3, h, w))
    wv = np.random.default_rng(0).standard_normal((3, h, w))
    assert np.allclose(conv.nusselt(t, wv, 1e6, 1.0), 1.0, atol=1e-12)
    endpoint = np.broadcast_to((1 - np.arange(h) / (h - 1))[:, None], (3, h, w))  # the wrong grid convention
    assert np.all(np.abs(conv.nusselt(endpoint, wv, 1e6, 1.0) - 1) > 0.1)
    # one roll: w = cos(2πx/Γ) sin(πz), θ = ε w: ⟨wθ⟩ = ε/4 on the midpoint grid, Nu = 1 + √(Ra Pr) ε/4
    x = np.arange(w) * 2.0 / w
    roll = np.cos(np.pi * x)[None, :] * np.sin(np.pi * z)[:, None]
    eps = 0.01
    assert conv.nusselt(((1 - z)[:, None] + eps * roll)[None], roll[None], 1e6, 1.0)[0] == pytest.approx(
        1 + 1e3 * eps / 4, rel=1e-12)


def test_nusselt_of_solver_snapshots_matches_the_solver_and_the_data_set():
    from genlab.sim.rayleigh_benard import RayleighBenard

    sim = RayleighBenard(2e4, 1.0, aspect=2.0, nz=32, single=False)
    state = sim.initial(2, seed=[0, 0], amplitude=0.1)
    sim.advance(state, 12.0)
    volume = sim.nusselt(state)[1]
    assert np.all(volume > 2)  # convecting
    for rows in (32, 16):
        f = sim.fields(state, rows, 2 * rows)
        assert np.allclose(conv.nusselt(f["temperature"], f["w"], 2e4, 1.0), volume, rtol=1e-6)
        assert not np.allclose(conv.nusselt(f["temperature"], 1.1 * f["w"], 2e4, 1.0), volume, rtol=0.05)
    d = load_dataset("rayleigh-benard", **RB)
    facts = d.meta["simulation"]
    x = d.x.numpy().astype(np.float64)  # temperature, u, w
    nu = conv.nusselt(x[:, 0], x[:, 2], facts["ra"], facts["pr"])
    assert nu.mean() == pytest.approx(facts["nusselt_volume"], rel=0.1)  # snapshots vs the run's time average


def test_convection_metric_on_snapshots():
    train, test = load_dataset("rayleigh-benard", **RB), load_dataset("rayleigh-benard:test", **RB)
    real = from_dataset(test, "rayleigh-benard:test")
    assert real.channels == ("temperature", "u", "w") and real.periodic == (2,) and physics.convection_ready(real)
    assert physics.default_metrics(real) == [*physics.DEFAULT, "convection"]
    res, curves = physics.evaluate(real, real, ["convection", "spectrum"])
    c = res["convection"]
    assert c["nu_ks"] == 0 and c["T_profile_max_err"] == 0 and c["w_rms_profile_rel_err"] == 0
    assert c["nu_mean_real"] > 1.5 and curves["spectrum"]["temperature"]["method"] == "fft1"
    assert np.all(np.isfinite(curves["spectrum"]["w"]["rel_err"][:-1]))  # the empty Nyquist bin is left out
    other, _ = physics.evaluate(real, from_dataset(train, "rayleigh-benard:train"), ["convection"])
    assert other["convection"]["T_profile_max_err"] < 0.2
    z = conv.heights(8)
    still = np.zeros_like(real.values)  # pure conduction: T = 1 − z, no flow
    still[:, 0] = (1 - z)[:, None]
    res, _ = physics.evaluate(real, _set(still, name="conduction"), ["convection"])
    c = res["convection"]
    assert c["nu_mean_fake"] == pytest.approx(1.0) and c["nu_ks"] == 1.0
    assert c["u_rms_profile_rel_err"] == pytest.approx(1.0) and c["T_profile_max_err"] > 0.05


# --- genlab eval -------------------------------------------------------------------------------------

def test_eval_real_vs_fake_fields(tmp_path, capsys):
    out = tmp_path / "res.json"
    assert main(["eval", "--real", "lognormal:test", "--fake", "grf:test", "--metrics", "spectrum,histogram",
                 "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(l.startswith("spectrum[lognormal]: max |P_fake/P_real - 1| for k <= N/4") for l in lines)
    assert any(l.startswith("histogram[lognormal]: KS") for l in lines)
    res = json.loads(out.read_text())["physics"]
    assert res["protocol"]["n_real"] == 256 and res["protocol"]["metrics"] == "spectrum,histogram"
    assert res["spectrum"]["lognormal"]["max_rel_err_k_le_n4"] > 10  # a convergence map vs a unit-variance GRF
    assert len(res["curves"]["spectrum"]["lognormal"]["k"]) == 32
    # images work too (Hann-windowed spectrum); train vs test of one data set is close
    assert main(["eval", "--real", "digits:test", "--fake", "digits:train", "--metrics", "spectrum,histogram",
                 "--json", str(out), "--n", "300"]) == 0
    res = json.loads(out.read_text())["physics"]
    assert res["spectrum"]["c0"]["max_rel_err_k_le_n4"] < 0.15 and res["histogram"]["c0"]["ks"] < 0.05
    assert res["curves"]["spectrum"]["c0"]["method"] == "fft2-hann"


def test_eval_run_records_physics_and_draws_the_report(tmp_path, capsys):
    run = tmp_path / "vae"
    assert main(["train", "vae", "--data", "grf", "--data.size=16", "--data.n=128", "--train.steps=5",
                 "--train.batch_size=16", "--train.progress=false", "--model.latent_dim=4", "--model.hidden=16",
                 "--model.channels=4", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--metrics", "spectrum,histogram,minkowski,peaks,c2st", "--k", "2",
                 "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "spectrum[grf]:" in out and "minkowski[grf]:" in out and "peaks[grf]:" in out and "c2st accuracy:" in out
    records = json.loads((run / "metrics.json").read_text())["records"]
    rec = [r for r in records if r["kind"] == "physics"]
    assert len(rec) == 1 and rec[0]["step"] == 5
    p = rec[0]["protocol"]
    assert (p["n_real"], p["n_fake"], p["split"], p["fake"]) == (32, 32, "grf:test", "samples of this run")
    assert "radial bins of width 1" in p["spectrum_convention"] and p["ema"] is False
    assert set(rec[0]["values"]) == {"spectrum", "histogram", "minkowski", "peaks"}
    c = [r for r in records if r["kind"] == "c2st"]  # the two-sample test: its own record kind
    assert len(c) == 1 and 0 <= c[0]["values"]["accuracy"] <= 1 and c[0]["protocol"]["split"] == "grf:test"
    assert {f.name for f in (run / "physics").glob("*.png")} == {"spectrum.png", "histogram.png", "minkowski.png",
                                                                  "peaks.png"}
    page = (run / "report.html").read_text()
    assert "<h2>Physics (generated vs real fields)</h2>" in page and "power spectrum per mode" in page
    assert len(json.loads((tmp_path / "r.json").read_text())["physics_curves"]["spectrum"]["grf"]["k"]) == 8
    # no --metrics on a field run: the likelihood and the default physics set (spectrum, histogram, minkowski,
    # peaks; + convection for Rayleigh-Benard: test_convection_metric_on_snapshots)
    from genlab.cli.eval_cmd import _run_defaults
    from genlab.runs import load_run

    r = load_run(run)
    assert _run_defaults(r, r.model.capabilities()) == ([], ["default"])
    # bad inputs: one line, exit 2, nothing written
    before = (run / "metrics.json").read_bytes()
    assert "needs Rayleigh-Benard snapshots" in _err(capsys, ["eval", str(run), "--metrics", "convection"])
    assert "unknown metric(s) bogus" in _err(capsys, ["eval", str(run), "--metrics", "spectrum,bogus"])
    assert "c2st needs at least 20 real" in _err(capsys, ["eval", str(run), "--metrics", "c2st", "--n", "10"])
    assert (run / "metrics.json").read_bytes() == before


def test_c2st_on_an_image_run(tmp_path, capsys):
    run = tmp_path / "img"
    tiny_trainer("vae", run_dir=run, steps=2).fit()
    assert main(["eval", str(run), "--metrics", "c2st", "--n", "40", "--k", "2"]) == 0
    assert "c2st p_value:" in capsys.readouterr().out
    rec = [r for r in json.loads((run / "metrics.json").read_text())["records"] if r["kind"] == "c2st"]
    assert len(rec) == 1 and rec[0]["protocol"]["n_real"] == 40


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a, b, vec = tmp_path / "a.npy", tmp_path / "b.npy", tmp_path / "v.npy"
    np.save(vec, 5 * rng.standard_normal((64, 2)))  # toy points, (N, D)
    for metric in ("spectrum", "c2st"):
        assert "need (C, H, W) fields" in _err(capsys, ["eval", "--real", str(vec), "--fake", str(vec),
                                                        "--metrics", metric])
    np.save(a, 5 * rng.standard_normal((8, 1, 16, 16)))
    np.save(b, 5 * rng.standard_normal((8, 1, 8, 8)))
    assert "compare sets of the same channels and size" in _err(
        capsys, ["eval", "--real", str(a), "--fake", str(b), "--metrics", "spectrum"])
    nan = 5 * rng.standard_normal((8, 1, 16, 16))
    nan[2, 0, 3, 3] = np.nan
    np.save(b, nan)
    assert "NaN" in _err(capsys, ["eval", "--real", str(a), "--fake", str(b), "--metrics", "histogram"])
    with pytest.raises(GenlabError, match="NaN/inf values in 1 of 8 examples"):
        from_samples(torch.from_numpy(nan).float(), FieldSpec((1, 16, 16), "field"), "samples")
    same = ["eval", "--real", str(a), "--fake", str(a), "--metrics"]
    assert "not both at once" in _err(capsys, same + ["fid,spectrum"])
    assert "needs Rayleigh-Benard" in _err(capsys, same + ["convection"])
    assert "unknown metric(s) spectra" in _err(capsys, same + ["spectra"])


def test_fields_with_gaps_get_the_histogram_of_observed_pixels_only():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 1, 8, 8))
    valid = np.ones(x.shape, bool)
    valid[:, :, :, :2] = False  # "land": never observed
    x[~valid] = 1e6  # whatever is stored there must not count
    real = FieldSet("gappy", x, FieldSpec((1, 8, 8), "field"), valid)
    assert physics.default_metrics(real) == ["histogram"]
    fake = _set(np.where(valid, x, -1e6), periodic=())  # samples have values everywhere; the gap is ignored
    res, _ = physics.evaluate(real, fake, ["histogram"])
    assert res["histogram"]["c0"]["ks"] == 0 and res["histogram"]["c0"]["w1"] == 0
    with pytest.raises(GenlabError, match="need gap-free maps"):
        physics.evaluate(real, fake, ["histogram", "spectrum"])
