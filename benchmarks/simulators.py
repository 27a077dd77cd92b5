"""Validation figures of the Rayleigh–Bénard solver (genlab/sim/rayleigh_benard.py) and the solver's snapshot rate.

    .venv/bin/python benchmarks/simulators.py onset                  # growth rates at Ra 600 ... 700, Ra_c
    .venv/bin/python benchmarks/simulators.py nusselt [--ra 1e5] [--nz 32,48,64] [--t-spin 30] [--t-avg 30]
                                                      [--mean-flow free|suppressed] [--cfl 0.8] [--double]
    .venv/bin/python benchmarks/simulators.py rate [-- --data.ra=1e6 ...]   # generate a split, print its facts

onset: the (k_c = π/√2, n = 1) mode of a Γ = 2√2 layer (16 × 16 grid, dt = 0.02 d²/κ, 2 d²/κ; amplitude 1e-6 with
the nonlinear terms on), its growth rate against the root of the dispersion relation, and the zero crossing
interpolated between the bracketing Rayleigh numbers against 27π⁴/4.
nusselt: Γ = 2 from seeded perturbations (amplitude 0.2); wall-flux and volume Nusselt numbers sampled every
0.5 free-fall times over [t_spin, t_spin + t_avg], time-averaged, per grid.
rate: loads `rayleigh-benard` (default options unless given) through the registry, so it is the data set's own
generator and cache; prints meta["simulation"] (add --fresh to use an empty temporary cache).
Output: one JSON object per line on stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from genlab.sim.rayleigh_benard import RA_CRITICAL, RayleighBenard, growth_rate, theory_growth_rate  # noqa: E402


def onset() -> None:
    ras = [600.0, 650.0, 665.0, 700.0]
    rates = []
    for ra in ras:
        s = growth_rate(ra, t_end=2.0, dt=0.02)
        rates.append(s)
        print(json.dumps({"ra": ra, "growth_rate": s, "theory": theory_growth_rate(ra),
                          "units": "thermal diffusion time d^2/kappa"}))
    i = next(j for j in range(3) if rates[j] < 0 < rates[j + 1])
    ra_c = ras[i] - rates[i] * (ras[i + 1] - ras[i]) / (rates[i + 1] - rates[i])
    print(json.dumps({"ra_c_interpolated": ra_c, "ra_c_theory": RA_CRITICAL,
                      "error_percent": 100 * (ra_c / RA_CRITICAL - 1)}))


def nusselt(ra: float, grids: list[int], t_spin: float, t_avg: float, mean_flow: bool, cfl: float,
            double: bool) -> None:
    for nz in grids:
        sim = RayleighBenard(ra, 1.0, aspect=2.0, nz=nz, single=not double, cfl=cfl, mean_flow=mean_flow)
        s = sim.initial(1, seed=0, amplitude=0.2)
        t0 = time.perf_counter()
        sim.advance(s, t_spin)
        wall, vol = [], []
        while s.t < t_spin + t_avg - 1e-9:
            sim.advance(s, 0.5)
            a, b = sim.nusselt(s)
            wall.append(float(a[0]))
            vol.append(float(b[0]))
        nw, nv = float(np.mean(wall)), float(np.mean(vol))
        print(json.dumps({"ra": ra, "grid": [nz, sim.nx], "mean_flow": mean_flow, "window": [t_spin, t_spin + t_avg],
                          "nusselt_wall": nw, "nusselt_volume": nv, "difference_percent": 100 * (nw - nv) / nv,
                          "nusselt_wall_std": float(np.std(wall)), "steps": s.steps,
                          "seconds": round(time.perf_counter() - t0, 1)}))


def rate(extra: list[str], fresh: bool) -> None:
    if fresh:
        os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="genlab-sim-")
    from genlab.config import DataConfig
    from genlab.data import load_dataset

    opts = {}
    for a in extra:
        k, _, v = a.removeprefix("--data.").partition("=")
        opts[k] = v
    cfg = DataConfig(**{k: (float(v) if k in ("ra", "pr") else int(v) if k in ("size", "n", "seed") else v)
                        for k, v in opts.items()})
    t0 = time.perf_counter()
    d = load_dataset("rayleigh-benard", **cfg.options())
    facts = d.meta["simulation"]
    print(json.dumps({"options": cfg.options(), "examples": len(d), "load_seconds": round(time.perf_counter() - t0, 1),
                      **facts}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", choices=("onset", "nusselt", "rate"))
    p.add_argument("--ra", type=float, default=1e5)
    p.add_argument("--nz", default="32,48,64")
    p.add_argument("--t-spin", type=float, default=30.0)
    p.add_argument("--t-avg", type=float, default=30.0)
    p.add_argument("--mean-flow", choices=("free", "suppressed"), default="free")
    p.add_argument("--cfl", type=float, default=0.8)
    p.add_argument("--double", action="store_true", help="float64 (default float32)")
    p.add_argument("--fresh", action="store_true", help="rate: an empty temporary cache (time the generation)")
    args, extra = p.parse_known_args()
    extra = [a for a in extra if a != "--"]
    if args.what == "onset":
        onset()
    elif args.what == "nusselt":
        nusselt(args.ra, [int(v) for v in args.nz.split(",")], args.t_spin, args.t_avg,
                args.mean_flow == "free", args.cfl, args.double)
    else:
        rate(extra, args.fresh)


if __name__ == "__main__":
    main()
