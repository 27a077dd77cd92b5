"""Snapshots of statistically steady 2-D Rayleigh–Bénard convection: the generator behind `rayleigh-benard`.

An ensemble of `runs` independent runs (initial temperature perturbations of amplitude 0.1, drawn from
numpy's default_rng([seed, stream]); stream 0 = train, 1 = test) is spun up for `spin_up` free-fall
times and then sampled every `spacing` free-fall times. The runs are one batched state and share the
solver's time step. (Branching one spun-up run into members would save spin-up, but in the quiet, sheared
phases of free-slip convection small perturbations hardly grow, so the members would stay near-copies.)

Snapshots are the band-limited fields of the solver (rayleigh_benard.py) on an H × W midpoint grid
(H = size, W = Γ · size), z_i = (i + ½)/H upwards from the bottom wall (row 0; genlab draws physical
fields with row 0 at the bottom, so the hot wall is at the bottom of a picture); channels temperature,
vorticity, u, w (free-fall units).

The solver grid follows the thermal boundary layer, whose thickness ~ 1/(2 Nu) shrinks as Ra^(−1/3):
Nz = 40 (Ra / 1e5)^(1/3) rounded up to a multiple of 16 (48 at 1e5, 96 at 1e6, 192 at 1e7, 400 at 1e8)
and never below the output size, Nx = Γ Nz; at Ra = 1e5 grids of 40 and 48 points put the two Nusselt
estimates within 0.1 % of each other, 32 points 5 % apart (docs/science.md). Without the horizontal
mean flow the rolls carry more heat (Nu = 26.1 at Ra = 1e6, steady, both estimates within 0.12 % on
128 × 256), so the constant is 160/3 (128 points at 1e6); on 96 points that run is under-resolved: it
turns spuriously chaotic (Nu 20–45) and at CFL 0.8 blew up after 140 free-fall times. The facts of the run — grid, mean and smallest time step, time-averaged Nusselt numbers
from the wall and the volume, wall-clock time and the solver's snapshots per second — go into the data
set's meta.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Optional

import numpy as np

from .rayleigh_benard import RayleighBenard

CHANNELS = ("temperature", "vorticity", "u", "w")
ASPECT = 2.0


def solver_nz(ra: float, size: int, mean_flow: bool = True) -> int:
    """The solver's vertical grid for Rayleigh number `ra` and output height `size` (a third finer without the
    mean flow, whose rolls carry more heat: Nu = 26 at Ra = 1e6)."""
    c = 40.0 if mean_flow else 160.0 / 3
    return max(int(size), 16 * math.ceil(c * (ra / 1e5) ** (1 / 3) / 16))


def _save_partial(path: Path, state, sim, k: int, out: np.ndarray, logs: dict) -> None:
    """The generation so far (solver state, the solver's last speeds, the k snapshots per run made, the
    Nusselt/dt logs, timings): written to a temporary file and renamed, so an interrupted split resumes
    from its last chunk, bit-identically (the adaptive step depends only on these)."""
    payload = {"omega": state.omega, "theta": state.theta, "out": out[:k],
               "scalars": np.array([state.t, state.steps, k, *(sim.last_speed or (np.nan, np.nan))], np.float64),
               **{name: np.asarray(v, np.float64) for name, v in logs.items()}}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **payload)
    os.replace(tmp, path)


def _load_partial(path: Path, state, sim, out: np.ndarray, logs: dict) -> int:
    """Restore what _save_partial wrote (if it matches this run's shapes); the number of snapshots per run
    already made (0 = start from the beginning)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if z["omega"].shape != state.omega.shape or z["out"].shape[1:] != out.shape[1:]:
                return 0
            t, steps, k, u, w = z["scalars"].tolist()
            state.omega, state.theta = z["omega"].astype(state.omega.dtype), z["theta"].astype(state.theta.dtype)
            state.t, state.steps = float(t), int(steps)
            sim.last_speed = None if math.isnan(u) else (float(u), float(w))
            out[:int(k)] = z["out"]
            for name in logs:
                logs[name] = z[name].tolist()
            return int(k)
    except (OSError, ValueError, KeyError):
        return 0


def snapshots(ra: float, pr: float, *, size: int, n: int, seed: int, stream: int, runs: int = 4,
              spin_up: float = 100.0, spacing: float = 2.0, aspect: float = ASPECT, single: bool = True,
              mean_flow: bool = True, progress=None, partial: Optional[Path] = None,
              chunk: int = 32) -> tuple[np.ndarray, dict]:
    """(n, 4, size, aspect·size) float32 snapshots (channels CHANNELS) and the run's facts.

    seed, stream: the runs' initial perturbations come from numpy's default_rng([seed, stream]) (stream 0 =
    train, 1 = test: independent runs). progress: an optional genlab Progress over free-fall times summed
    over the runs. partial: a file where the generation is saved every `chunk` snapshots per run (and after
    the spin-up), and resumed from if present — identical numbers to an uninterrupted generation; the
    caller deletes it once the split is cached."""
    runs = max(1, min(int(runs), int(n)))
    per_run = math.ceil(n / runs)
    nz = solver_nz(ra, size, mean_flow)
    sim = RayleighBenard(ra, pr, aspect=aspect, nz=nz, single=single, mean_flow=mean_flow)
    state = sim.initial(runs, seed=[int(seed), int(stream)], amplitude=0.1)
    h, w = int(size), int(round(aspect * size))
    out = np.empty((per_run, runs, len(CHANNELS), h, w), np.float32)
    logs: dict = {"nu_wall": [], "nu_vol": [], "dts": [], "timing": [0.0, 0.0, 0.0]}  # spin s, sample s, spin steps
    start = _load_partial(partial, state, sim, out, logs) if partial is not None and partial.is_file() else -1
    t0 = time.perf_counter()
    done = 0.0 if start < 0 else runs * (spin_up + start * spacing)

    def run_for(duration: float) -> None:
        nonlocal done
        end = state.t + duration
        while state.t < end - 1e-9:
            d = min(10.0, end - state.t)
            sim.advance(state, d)
            done += d * runs
            if progress is not None:
                progress.set(int(round(done)))

    if start < 0:
        run_for(spin_up)
        logs["timing"] = [time.perf_counter() - t0, 0.0, float(state.steps)]
        start = 0
        if partial is not None:
            _save_partial(partial, state, sim, 0, out, logs)
    if progress is not None:
        progress.set(int(round(done)))
    nu_wall, nu_vol, dts = logs["nu_wall"], logs["nu_vol"], logs["dts"]
    t1 = time.perf_counter() - logs["timing"][1]
    for k in range(start, per_run):
        for _ in range(4):  # Nusselt numbers four times per spacing
            n0, tt = state.steps, state.t
            run_for(spacing / 4)
            dts.append((state.t - tt) / max(1, state.steps - n0))
            a, b = sim.nusselt(state)
            nu_wall.append(np.asarray(a, np.float64))
            nu_vol.append(np.asarray(b, np.float64))
        f = sim.fields(state, h, w)
        for c, name in enumerate(CHANNELS):
            out[k, :, c] = f[name]  # row 0 = next to the bottom wall (z upwards, as fields are drawn)
        if partial is not None and (k + 1) % chunk == 0 and k + 1 < per_run:
            logs["timing"][1] = time.perf_counter() - t1
            _save_partial(partial, state, sim, k + 1, out, logs)
    t_sample = time.perf_counter() - t1
    t_spin, steps_spin = logs["timing"][0], int(logs["timing"][2])
    x = out.reshape(per_run * runs, len(CHANNELS), h, w)[:n]
    nw, nv = float(np.mean(nu_wall)), float(np.mean(nu_vol))
    facts = {
        "ra": float(ra), "pr": float(pr), "aspect": float(aspect), "solver_grid": [nz, sim.nx],
        "grid": [h, w], "units": "free-fall: length d, velocity sqrt(g alpha dT d), time d/U, temperature dT",
        "precision": "float32" if single else "float64", "cfl": sim.cfl, "mean_flow": bool(mean_flow), "runs": runs,
        "spin_up": float(spin_up), "snapshot_spacing": float(spacing),
        "steps": int(state.steps), "dt_mean": float(np.mean(dts)), "dt_min": float(np.min(dts)),
        "nusselt_wall": nw, "nusselt_volume": nv, "nusselt_difference": abs(nw - nv) / nv,
        "nusselt_window": [float(spin_up), float(state.t)],
        "seconds_spin_up": round(t_spin, 2), "seconds_sampling": round(t_sample, 2),
        "snapshots_per_second": len(x) / max(t_sample, 1e-9),
        "snapshots_per_second_with_spin_up": len(x) / max(t_spin + t_sample, 1e-9),
        "spin_up_steps": int(steps_spin),
    }
    return x, facts
