"""Simulators as datasets: generated from a seed, cached on disk, reproducible (same options -> identical arrays).

`rayleigh-benard`: snapshots of 2-D Rayleigh–Bénard convection between free-slip walls (genlab/sim/
rayleigh_benard.py, rb_runs.py), H × 2H fields of data.var (temperature, vorticity, u, w in free-fall
units), periodic in x (axis 2); train and test are different ensembles of runs (seed streams 0 and 1).
data.mean_flow=free (default) is the unmodified equations: with free-slip walls at Pr = 1 and Ra ≳ 5e5 a
horizontal shear flow grows until it switches convection off for ~150 free-fall times between bursts
(Goluskin et al. 2014; this solver reproduces it), so most snapshots are sheared, nearly conductive layers
and some are bursts of plumes. data.mean_flow=suppressed keeps that mean flow at zero: no shear and no
bursts (steady rolls with Nu = 26.1 at Ra = 1e6), on a third finer solver grid.
`grf`: periodic Gaussian random fields with P(k) ∝ k^slope; `lognormal`: shifted log-normal convergence-
like maps κ with a requested power-law spectrum (genlab/sim/random_fields.py); both periodic in both axes.

Every split is cached in $XDG_CACHE_HOME/genlab/sim/ (genlab/sim/cache.py) under a key of all options and
the generator's source, and standardised per channel by the training split (loading the test split
makes the training one too). The generator's facts (Ra, grid, time step, Nusselt numbers, snapshots per
second; or the spectrum, σ_g, expected moments) are in meta["simulation"], kept in a run's data_info.json.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from ..fields import FieldSpec, Normalizer
from ..registry import DATASETS
from .base import FieldDataset

SPLITS = ("train", "test")
STREAM = {"train": 0, "test": 1}
RB_DEFAULTS = {"ra": 1e6, "pr": 1.0, "size": 32, "n": 128, "seed": 0, "mean_flow": "free"}
# how a split is simulated (free-fall times): runs of one ensemble, spin-up before the first snapshot, spacing
RB_RUN = {"runs": 4, "spin_up": 100.0, "spacing": 2.0}
FIELD_DEFAULTS = {"size": 64, "n": 1024, "seed": 0}


def test_count(n: int) -> int:
    """Examples in the test split for data.n training examples."""
    return max(1, n // 4)


# --- option checks (one-line errors) ----------------------------------------------------------------

def _positive(name: str, value, *, integer: bool = False):
    ok = value is not None and not isinstance(value, bool) and math.isfinite(float(value)) and float(value) > 0
    if ok and integer:
        ok = float(value) == int(value)
    if not ok:
        raise GenlabError(f"data.{name}={value!r} is invalid; it must be a positive {'integer' if integer else 'number'}")
    return int(value) if integer else float(value)


def _size(value) -> int:
    s = _positive("size", value, integer=True)
    if s < 8 or s & (s - 1):
        raise GenlabError(f"data.size={value!r} is invalid; use a power of two >= 8 (e.g. 32, 64)")
    return s


def _seed(value) -> int:
    if value is None or isinstance(value, bool) or float(value) != int(value) or int(value) < 0:
        raise GenlabError(f"data.seed={value!r} is invalid; use a non-negative integer")
    return int(value)


def _standardise(train: np.ndarray, units: str) -> Normalizer:
    """Per-channel mean and standard deviation of the training split (N, C, H, W)."""
    x = train.astype(np.float64)
    mean = x.mean(axis=(0, 2, 3))
    sd = x.std(axis=(0, 2, 3))
    return Normalizer(tuple(mean), tuple(s if s > 0 else 1.0 for s in sd), units)


# --- Rayleigh–Bénard ------------------------------------------------------------------------------------

def _rb_split(ra: float, pr: float, mean_flow: str, size: int, n: int, seed: int, split: str,
              runs: Optional[int] = None) -> tuple[np.ndarray, dict, bool]:
    import sys

    from ..progress import Progress
    from ..sim import cache, rb_runs

    runs = min(int(RB_RUN["runs"] if runs is None else runs), n)
    params = {"ra": ra, "pr": pr, "mean_flow": mean_flow, "size": size, "n": n, "seed": seed,
              "stream": STREAM[split], "runs": runs, "spin_up": float(RB_RUN["spin_up"]),
              "spacing": float(RB_RUN["spacing"]), "aspect": rb_runs.ASPECT,
              "single": True}

    def make():
        runs, nz = params["runs"], rb_runs.solver_nz(ra, size, mean_flow == "free")
        total = runs * (params["spin_up"] + math.ceil(n / runs) * params["spacing"])
        print(f"genlab: simulating rayleigh-benard:{split} (Ra={ra:g}, Pr={pr:g}, {n} snapshots, solver grid "
              f"{nz} x {int(rb_runs.ASPECT * nz)}); cached in "
              f"{cache.cache_dir()}" + ("; resuming an interrupted generation" if partial.is_file() else ""),
              file=sys.stderr, flush=True)
        bar = Progress(int(round(total)), f"simulate {split} (free-fall times x runs)", log_every=30.0)
        x, facts = rb_runs.snapshots(ra, pr, size=size, n=n, seed=seed, stream=STREAM[split], runs=runs,
                                     spin_up=params["spin_up"], spacing=params["spacing"], aspect=params["aspect"],
                                     single=params["single"], mean_flow=mean_flow == "free", progress=bar,
                                     partial=partial)
        bar.close()
        return {"x": x}, facts

    code = cache.code_version("rayleigh_benard.py", "rb_runs.py")
    # an interrupted generation (Ctrl-C, the end of a session) resumes from its last chunk of snapshots
    partial = cache.cache_dir() / f".rayleigh-benard-{cache.key_of('rayleigh-benard', params, code)[0]}.partial.npz"
    partial.parent.mkdir(parents=True, exist_ok=True)
    arrays, facts, hit = cache.cached("rayleigh-benard", params, code, make)
    partial.unlink(missing_ok=True)
    return arrays["x"], facts, hit


def _channels(var: Optional[str]) -> list[int]:
    from ..sim.rb_runs import CHANNELS

    names = [v.strip().lower() for v in (var or "temperature,u,w").split(",") if v.strip()]
    bad = [v for v in names if v not in CHANNELS]
    if bad or not names or len(set(names)) != len(names):
        raise GenlabError(f"data.var={var!r} is invalid; choose distinct channels from {', '.join(CHANNELS)} "
                          "joined with commas (default temperature,u,w)")
    return [CHANNELS.index(v) for v in names]


@DATASETS.register("rayleigh-benard", splits=SPLITS, options=("ra", "pr", "mean_flow", "size", "n", "seed", "var",
                                                                "runs"),
                   help="snapshots of 2-D Rayleigh-Benard convection (free-slip walls, own pseudo-spectral solver; "
                        "simulated from data.seed and cached): data.var=temperature,u,w (also vorticity), "
                        "data.ra (1e6), data.pr (1), data.mean_flow (free), data.size (32: 32 x 64), "
                        "data.n (128; test n/4), data.runs (4 independent solver runs per split)")
def rayleigh_benard(split: str, ra=None, pr=None, mean_flow=None, size=None, n=None, seed=None, var=None,
                    runs=None) -> FieldDataset:
    from ..sim.rb_runs import CHANNELS

    ra = _positive("ra", RB_DEFAULTS["ra"] if ra is None else ra)
    pr = _positive("pr", RB_DEFAULTS["pr"] if pr is None else pr)
    if not 1e4 <= ra <= 1e8:
        raise GenlabError(f"data.ra={ra:g} is outside 1e4 ... 1e8: below, the convection is steady (every snapshot "
                          "alike); above, the solver grid passes 400 x 800 points (too slow on a CPU)")
    if not 0.1 <= pr <= 100:
        raise GenlabError(f"data.pr={pr:g} is outside 0.1 ... 100, the range this solver's grid rule is meant for")
    mean_flow = str(RB_DEFAULTS["mean_flow"] if mean_flow is None else mean_flow)
    if mean_flow not in ("free", "suppressed"):
        raise GenlabError(f"data.mean_flow={mean_flow!r} is invalid; use free or suppressed")
    size = _size(RB_DEFAULTS["size"] if size is None else size)
    n = _positive("n", RB_DEFAULTS["n"] if n is None else n, integer=True)
    seed = _seed(RB_DEFAULTS["seed"] if seed is None else seed)
    runs = None if runs is None else _positive("runs", runs, integer=True)
    chans = _channels(var)
    train, facts, hit = _rb_split(ra, pr, mean_flow, size, n, seed, "train", runs)
    x = train
    if split != "train":
        x, test_facts, hit = _rb_split(ra, pr, mean_flow, size, test_count(n), seed, split, runs)
        facts = {**test_facts, "train": facts}
    names = tuple(CHANNELS[c] for c in chans)
    units = "dimensionless (free-fall units)"
    spec = FieldSpec((len(chans), *x.shape[2:]), "field",
                     normalizer=_standardise(train[:, chans], units), periodic=(2,), channels=names)
    meta = {"source": f"genlab solver (sim/rayleigh_benard.py), Ra={ra:g}, Pr={pr:g}, mean flow {mean_flow}, "
                      f"seed {seed}",
            "variable": ",".join(names), "units": units,
            "split_rule": "train and test are independent ensembles of runs (seed streams 0 and 1)",
            "simulation": {"kind": "rayleigh-benard", **facts, "mean_flow": mean_flow, "cached": hit}}
    return FieldDataset("rayleigh-benard", split, {"x": torch.from_numpy(np.ascontiguousarray(x[:, chans]))},
                        {"x": spec}, meta=meta)


# --- random fields ------------------------------------------------------------------------------------

def _field_split(kind: str, params: dict, split: str) -> tuple[np.ndarray, dict, bool]:
    from ..sim import cache, random_fields as rf

    p = {**params, "stream": STREAM[split]}
    count = params["n"] if split == "train" else test_count(params["n"])

    def make():
        rng = np.random.default_rng([params["seed"], STREAM[split], 0 if kind == "grf" else 1])
        power = rf.power_law(params["size"], params["slope"], params["sigma"])
        k, target, modes = rf.binned(rf.wavenumbers(params["size"]), power, params["size"] // 2)
        facts = {"spectrum": {"k": k.tolist(), "power": target.tolist(), "modes": modes.tolist(),
                              "convention": "P(k) = E|fft2(x)_k|^2 / N^2 per mode, k in units of 2 pi / L, "
                                            "radial bins of width 1"}}
        if kind == "grf":
            x = rf.gaussian_fields(power, count, rng)
        else:
            x, more = rf.lognormal_fields(power, params["shift"], count, rng)
            facts.update(more)
        return {"x": x.astype(np.float32)[:, None]}, facts

    arrays, facts, hit = cache.cached(kind, p, cache.code_version("random_fields.py"), make)
    return arrays["x"], facts, hit


def _field_dataset(kind: str, split: str, params: dict, units: str, source: str) -> FieldDataset:
    train, facts, hit = _field_split(kind, params, "train")
    x = train if split == "train" else _field_split(kind, params, split)[0]
    spec = FieldSpec(tuple(x.shape[1:]), "field", normalizer=_standardise(train, units), periodic=(1, 2),
                     channels=(kind,))
    meta = {"source": source, "variable": kind, "units": units,
            "split_rule": "train and test from independent seed streams",
            "simulation": {"kind": kind, **{k: v for k, v in params.items()}, **facts, "cached": hit}}
    return FieldDataset(kind, split, {"x": torch.from_numpy(np.ascontiguousarray(x))}, {"x": spec}, meta=meta)


def _field_params(size, n, seed, slope, sigma, slope_default: float, sigma_default: float) -> dict:
    slope = float(slope_default if slope is None else slope)
    if not math.isfinite(slope) or not -6 <= slope <= 2:
        raise GenlabError(f"data.slope={slope!r} is invalid; give a power-law index between -6 and 2 (P(k) ∝ k^slope)")
    return {"size": _size(FIELD_DEFAULTS["size"] if size is None else size),
            "n": _positive("n", FIELD_DEFAULTS["n"] if n is None else n, integer=True),
            "seed": _seed(FIELD_DEFAULTS["seed"] if seed is None else seed), "slope": slope,
            "sigma": _positive("sigma", sigma_default if sigma is None else sigma)}


@DATASETS.register("grf", splits=SPLITS, options=("size", "n", "seed", "slope", "sigma"),
                   help="periodic Gaussian random fields with power spectrum P(k) ∝ k^slope (data.slope, default -3), "
                        "standard deviation data.sigma (1); data.size (64), data.n (1024 train; test n/4), data.seed")
def grf(split: str, size=None, n=None, seed=None, slope=None, sigma=None) -> FieldDataset:
    p = _field_params(size, n, seed, slope, sigma, -3.0, 1.0)
    return _field_dataset("grf", split, p, "dimensionless",
                          f"Gaussian random field, P(k) ∝ k^{p['slope']:g}, sigma {p['sigma']:g}, seed {p['seed']}")


@DATASETS.register("lognormal", splits=SPLITS, options=("size", "n", "seed", "slope", "sigma", "shift"),
                   help="log-normal convergence-like maps kappa = shift (exp(g - var/2) - 1) whose power spectrum is "
                        "P(k) ∝ k^slope (data.slope, default -2), std data.sigma (0.02), data.shift (0.03); "
                        "data.size (64), data.n (1024 train; test n/4), data.seed")
def lognormal(split: str, size=None, n=None, seed=None, slope=None, sigma=None, shift=None) -> FieldDataset:
    p = _field_params(size, n, seed, slope, sigma, -2.0, 0.02)
    p["shift"] = _positive("shift", 0.03 if shift is None else shift)
    return _field_dataset("lognormal", split, p, "dimensionless (convergence)",
                          f"shifted log-normal field, P(k) ∝ k^{p['slope']:g}, sigma {p['sigma']:g}, "
                          f"shift {p['shift']:g}, seed {p['seed']}")
