"""Simulators as datasets (genlab/sim/, data/simulators.py): the Rayleigh–Bénard solver is right (onset of
convection, two Nusselt estimates agree), the random fields have the spectra and moments they are built
to have, generation is reproducible and cached, bad options are one-line errors."""
import math

import numpy as np
import pytest

from genlab.data import load_dataset, simulators
from genlab.errors import GenlabError
from genlab.sim import cache, random_fields as rf
from genlab.sim.rayleigh_benard import RA_CRITICAL, RayleighBenard, growth_rate, theory_growth_rate
from genlab.sim.rb_runs import snapshots


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_onset_of_convection_between_600_and_700():
    """The (k_c = π/√2, n = 1) mode of a Γ = 2√2 layer decays below Ra_c = 27π⁴/4 ≈ 657.5 and grows above it;
    the zero crossing of the measured growth rate (16 × 16 grid, dt = 0.02 d²/κ, 2 d²/κ) is within 2 %."""
    ras = [600.0, 650.0, 665.0, 700.0]
    rates = [growth_rate(ra, t_end=2.0, dt=0.02) for ra in ras]
    assert rates[0] < rates[1] < 0 < rates[2] < rates[3]
    for ra, s in zip(ras, rates):  # each within 1 % of the dispersion relation's root
        assert s == pytest.approx(theory_growth_rate(ra), rel=1e-2)
    i = next(j for j in range(3) if rates[j] < 0 < rates[j + 1])
    ra_c = ras[i] - rates[i] * (ras[i + 1] - ras[i]) / (rates[i + 1] - rates[i])
    assert abs(ra_c / RA_CRITICAL - 1) < 0.02
    assert RA_CRITICAL == pytest.approx(657.51, abs=0.01)


def test_nusselt_from_walls_and_volume_agree_at_ra_1e5():
    """Ra = 1e5, Pr = 1, Γ = 2 on a 48 × 96 grid: the time averages over t = 30 ... 60 free-fall times of the
    wall-flux and volume (1 + ⟨wθ⟩/κ) Nusselt numbers agree within 3 % (they reach 0.1 %; a 32-point grid
    misses by 6 %, so under-resolution fails this test)."""
    sim = RayleighBenard(1e5, 1.0, aspect=2.0, nz=48, single=True, cfl=0.8)
    s = sim.initial(1, seed=0, amplitude=0.2)
    sim.advance(s, 30.0)
    wall, vol = [], []
    while s.t < 60.0 - 1e-9:
        sim.advance(s, 0.5)
        a, b = sim.nusselt(s)
        wall.append(float(a[0]))
        vol.append(float(b[0]))
    nw, nv = np.mean(wall), np.mean(vol)
    assert nw > 5  # convecting, not conducting (Nu = 1)
    assert abs(nw - nv) / nv < 0.03, (nw, nv)


def test_transforms_and_velocity_are_consistent():
    """Grid <-> spectral round trip, and the velocity is divergence-free."""
    sim = RayleighBenard(1e4, nz=16, nx=32)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((1, *sim.shape)) + 1j * rng.standard_normal((1, *sim.shape))
    a[..., 0] = a[..., 0].real
    assert np.abs(sim.to_spec(sim.to_grid(a)) - a).max() < 1e-12
    psi = sim.psi(a)
    u, w = sim.velocity(a)  # ∂u/∂x by an independent FFT of the grid values, ∂w/∂z from the sine series
    dudx = np.fft.irfft(1j * np.fft.rfftfreq(sim.nx, sim.dx / (2 * np.pi)) * np.fft.rfft(u, axis=-1), n=sim.nx)
    dwdz = sim._cos_to_grid(sim._dz(sim.ik * psi))
    assert np.abs(dudx + dwdz).max() < 1e-9 * max(1.0, np.abs(dudx).max())


def _tiny_rb(monkeypatch):
    monkeypatch.setitem(simulators.RB_RUN, "spin_up", 10.0)
    monkeypatch.setitem(simulators.RB_RUN, "spacing", 1.0)
    monkeypatch.setitem(simulators.RB_RUN, "runs", 2)
    return {"ra": 2e4, "size": 8, "n": 4}


def test_rayleigh_benard_dataset_reproducible_and_cached(monkeypatch, tmp_path):
    opts = _tiny_rb(monkeypatch)
    a = load_dataset("rayleigh-benard", **opts)
    assert tuple(a.x.shape) == (4, 3, 8, 16)
    spec = a.specs["x"]
    assert spec.kind == "field" and spec.periodic == (2,) and spec.channels == ("temperature", "u", "w")
    sim = a.meta["simulation"]
    assert not sim["cached"] and sim["snapshots_per_second"] > 0 and sim["solver_grid"] == [32, 64]
    for k in ("ra", "pr", "aspect", "dt_mean", "snapshot_spacing", "nusselt_wall", "nusselt_volume"):
        assert k in sim
    t = a.x[:, 0]  # temperature: hot (≈1) next to the bottom wall (row 0, z upwards), cold at the top
    assert t[:, 0].mean() > 0.7 and t[:, -1].mean() < 0.3
    files = list((tmp_path / "cache" / "genlab" / "sim").glob("rayleigh-benard-*.npz"))
    assert len(files) == 1

    def boom(*_, **__):
        raise AssertionError("a cached split was simulated again")

    from genlab.sim import rb_runs

    real = rb_runs.snapshots
    monkeypatch.setattr(rb_runs, "snapshots", boom)
    b = load_dataset("rayleigh-benard", **opts)
    assert b.meta["simulation"]["cached"] and np.array_equal(a.x.numpy(), b.x.numpy())
    monkeypatch.setattr(rb_runs, "snapshots", real)
    for f in files:  # the same seed regenerates bit-identical arrays
        f.unlink()
    c = load_dataset("rayleigh-benard", **opts)
    assert not c.meta["simulation"]["cached"] and np.array_equal(a.x.numpy(), c.x.numpy())
    test = load_dataset("rayleigh-benard:test", **opts)  # another ensemble of runs: different snapshots
    assert len(test) == 1 and not np.allclose(test.x[0].numpy(), a.x[0].numpy())
    assert test.specs["x"].normalizer == a.specs["x"].normalizer  # standardised by the training split
    other = load_dataset("rayleigh-benard", **opts, seed=1)
    assert not np.allclose(other.x.numpy(), a.x.numpy())
    assert a.meta["simulation"]["runs"] == 2
    more = load_dataset("rayleigh-benard", **opts, runs=4)  # data.runs: 4 runs of one snapshot each
    assert more.meta["simulation"]["runs"] == 4 and len(more) == 4
    assert not np.allclose(more.x.numpy(), a.x.numpy())  # another ensemble, and a cache entry of its own


def test_snapshot_streams_are_independent_runs():
    x0, f0 = snapshots(2e4, 1.0, size=8, n=2, seed=3, stream=0, runs=2, spin_up=5.0, spacing=1.0)
    x1, _ = snapshots(2e4, 1.0, size=8, n=2, seed=3, stream=1, runs=2, spin_up=5.0, spacing=1.0)
    again, _ = snapshots(2e4, 1.0, size=8, n=2, seed=3, stream=0, runs=2, spin_up=5.0, spacing=1.0)
    assert np.array_equal(x0, again) and not np.allclose(x0, x1)
    assert f0["steps"] > 0 and f0["dt_min"] <= f0["dt_mean"]


def test_cache_refuses_a_foreign_entry(monkeypatch):
    calls = []

    def make():
        calls.append(1)
        return {"x": np.arange(4.0)}, {"made": len(calls)}

    cache.cached("demo", {"a": 1}, "v1", make)
    arrays, meta, hit = cache.cached("demo", {"a": 1}, "v1", make)
    assert hit and meta == {"made": 1} and len(calls) == 1
    cache.cached("demo", {"a": 1}, "v2", make)  # new code version -> new key -> made again
    assert len(calls) == 2
    key, _ = cache.key_of("demo", {"a": 1}, "v1")
    (cache.cache_dir() / f"demo-{key}.npz").write_bytes(b"not a zip file")
    _, _, hit = cache.cached("demo", {"a": 1}, "v1", make)
    assert not hit and len(calls) == 3


def test_code_version_ignores_prose_but_not_code(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "SIM", tmp_path)
    f = tmp_path / "m.py"
    f.write_text('"""Doc."""\n\ndef g(x):\n    """Doc."""\n    return x + 1  # one\n')
    v = cache.code_version("m.py")
    f.write_text('"""Other words."""\n\ndef g(x):\n    """More."""\n    return x + 1  # two\n')
    assert cache.code_version("m.py") == v
    f.write_text('"""Doc."""\n\ndef g(x):\n    """Doc."""\n    return x + 2\n')
    assert cache.code_version("m.py") != v


@pytest.mark.parametrize("slope", [-3.0, -1.0])
def test_grf_power_spectrum_matches_the_requested_one(slope):
    """64 maps of 64²: each radial bin's mean power is an average of M = n_maps × modes/2 independent
    exponential variables (|ĝ|² of a complex Gaussian; ±k are one variable), so its relative standard error
    is 1/√M; every bin must lie within 5 of those (a spectrum one power of k off misses by far more)."""
    size, n = 64, 64
    power = rf.power_law(size, slope, 1.5)
    x = rf.gaussian_fields(power, n, np.random.default_rng(0))
    assert x.var() == pytest.approx(1.5 ** 2, rel=0.1)
    k, got, modes = rf.radial_spectrum(x)
    _, want, _ = rf.binned(rf.wavenumbers(size), power, size // 2)
    se = want / np.sqrt(n * np.maximum(modes / 2, 1))
    assert np.all(np.abs(got - want) < 5 * se), np.max(np.abs(got - want) / se)
    fit = np.polyfit(np.log(k[2:]), np.log(got[2:]), 1)[0]
    assert fit == pytest.approx(slope, abs=0.1)


def test_grf_dataset_is_periodic_and_reproducible():
    a = load_dataset("grf", size=32, n=8, slope=-2.5)
    b = load_dataset("grf", size=32, n=8, slope=-2.5)
    assert a.specs["x"].periodic == (1, 2) and tuple(a.x.shape) == (8, 1, 32, 32)
    assert b.meta["simulation"]["cached"] and np.array_equal(a.x.numpy(), b.x.numpy())
    t = load_dataset("grf:test", size=32, n=8, slope=-2.5)
    assert len(t) == 2 and not np.allclose(t.x[0].numpy(), a.x[0].numpy())


def test_lognormal_moments_and_spectrum_as_designed():
    """κ = λ(exp(g − σ_g²/2) − 1): zero mean, variance sigma² = λ²(exp σ_g² − 1), κ > −λ, positive skewness
    (theory 2.3 for sigma/λ = 2/3), and the requested spectrum. Tolerances: 5 standard errors estimated from
    the scatter between the 64 maps (the maps are independent; pixels within a map are not)."""
    size, n, sigma, shift, slope = 64, 64, 0.02, 0.03, -2.0
    power = rf.power_law(size, slope, sigma)
    x, facts = rf.lognormal_fields(power, shift, n, np.random.default_rng(0))
    assert facts["clipped_power"] < 0.01
    assert facts["expected_variance"] == pytest.approx(sigma ** 2, rel=0.02)
    assert x.min() > -shift
    per_mean, per_var = x.mean(axis=(1, 2)), x.var(axis=(1, 2))
    assert abs(per_mean.mean()) < 5 * per_mean.std() / math.sqrt(n) + 1e-12
    total = (x ** 2).mean(axis=(1, 2))
    assert abs(total.mean() - facts["expected_variance"]) < 5 * total.std() / math.sqrt(n)
    skew = ((x - x.mean()) ** 3).mean() / x.var() ** 1.5
    assert 1.2 < skew < 3.5 and facts["expected_skewness"] == pytest.approx(2.30, abs=0.05)
    k = rf.wavenumbers(size)
    maps = np.abs(np.fft.fft2(x)) ** 2 / size ** 2
    per_bin = np.stack([rf.binned(k, m, 16)[1] for m in maps])  # (maps, bins 1..16)
    _, want, _ = rf.binned(k, power, 16)
    got, se = per_bin.mean(0), per_bin.std(0) / math.sqrt(n)
    assert np.all(np.abs(got - want) < 5 * se + 0.02 * want), np.max(np.abs(got - want) / se)
    ds = load_dataset("lognormal", size=32, n=4)
    assert ds.meta["simulation"]["shift"] == 0.03 and ds.specs["x"].units.startswith("dimensionless")


@pytest.mark.parametrize("name,opts,words", [
    ("rayleigh-benard", {"ra": 0}, "data.ra=0"),
    ("rayleigh-benard", {"ra": -5}, "data.ra=-5"),
    ("rayleigh-benard", {"ra": 500}, "outside 1e4"),
    ("rayleigh-benard", {"pr": 0}, "data.pr=0"),
    ("rayleigh-benard", {"size": 48}, "power of two"),
    ("rayleigh-benard", {"var": "pressure"}, "data.var"),
    ("rayleigh-benard", {"mean_flow": "off"}, "data.mean_flow"),
    ("rayleigh-benard", {"n": 0}, "data.n=0"),
    ("rayleigh-benard", {"seed": -1}, "data.seed"),
    ("rayleigh-benard", {"runs": 0}, "data.runs=0"),
    ("rayleigh-benard", {"runs": 2.5}, "data.runs=2.5"),
    ("grf", {"size": 30}, "power of two"),
    ("grf", {"slope": float("nan")}, "data.slope"),
    ("grf", {"sigma": 0}, "data.sigma"),
    ("lognormal", {"shift": 0}, "data.shift"),
    ("lognormal", {"shift": 1e-4, "sigma": 1.0}, "data.shift"),
])
def test_bad_options_are_one_line_errors(name, opts, words):
    with pytest.raises(GenlabError) as e:
        load_dataset(name, **{"n": 4, "size": 8, **opts})
    msg = str(e.value)
    assert words in msg and "\n" not in msg


def test_cli_info_and_bad_option(capsys, monkeypatch):
    from genlab.cli.main import main

    _tiny_rb(monkeypatch)
    assert main(["data", "info", "rayleigh-benard", "--data.ra=2e4", "--data.size=8", "--data.n=4"]) == 0
    out = capsys.readouterr().out
    assert "temperature,u,w" in out and "periodic axes [2]" in out
    assert main(["data", "info", "rayleigh-benard", "--data.ra=0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "data.ra=0" in err and len(err.splitlines()) == 1


def test_an_interrupted_generation_resumes_to_identical_snapshots(tmp_path):
    """A split interrupted after some chunks (the end of a session) continues from its partial file and gives
    bit-identical snapshots and the same facts as an uninterrupted run."""
    kw = dict(size=8, n=8, seed=3, stream=0, runs=2, spin_up=2.0, spacing=0.5)
    full, facts = snapshots(2e4, 1.0, **kw)

    class Stop(Exception):
        pass

    class Interrupt:
        def set(self, value):
            if value >= 2 * (2.0 + 2 * 0.5) + 1:  # two runs: after the spin-up and two snapshots each, and a bit
                raise Stop

    partial = tmp_path / "rb.partial.npz"
    with pytest.raises(Stop):
        snapshots(2e4, 1.0, **kw, partial=partial, chunk=1, progress=Interrupt())
    assert partial.is_file()
    resumed, facts2 = snapshots(2e4, 1.0, **kw, partial=partial, chunk=1)
    assert np.array_equal(full, resumed)
    for key in ("steps", "dt_mean", "nusselt_wall", "nusselt_volume"):
        assert facts2[key] == facts[key]
    # a partial file from another run's shapes is ignored (a fresh start), not mixed in
    other, _ = snapshots(2e4, 1.0, **{**kw, "size": 16}, partial=partial, chunk=1)
    assert other.shape == (8, 4, 16, 32)
