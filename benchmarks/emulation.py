"""Emulator vs solver: snapshots per second of a trained (or freshly built) generator against the
Rayleigh–Bénard solver that made its training data, both timed in this process on the same threads.

    .venv/bin/python benchmarks/emulation.py [--run RUN] [--threads 1] [--batch 256] [-- --data.n=4096 ...]

Solver: the cost of one snapshot is (solver steps between two snapshots) × (seconds per step) / (runs
advanced together). The steps between snapshots come from the data set's own facts (`steps`,
`spin_up_steps`, snapshots per run — recorded by the generation), so they are the real adaptive-step
counts of the flow; the seconds per step are timed here on a state of the same grid and batch (the
cost of a pseudo-spectral step does not depend on the flow, only on the grid). Spin-up is not charged
to the solver (it would make the ratio larger). Emulator: G(z) for `--batch` latents at a time
(no_grad, fp32, decoded to physical units as `genlab sample` does), timed over several batches.
Without --run an untrained dcgan of the default emulator shape is timed (the speed does not depend on
the weights). Prints one JSON line per measurement and a final ratio.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from genlab.data import load_dataset  # noqa: E402


def _options(extra: list[str]) -> dict:
    opts = {}
    for a in extra:
        if not a.startswith("--data.") or "=" not in a:
            raise SystemExit(f"error: expected --data.KEY=VALUE after --, got {a!r}")
        k, v = a[len("--data."):].split("=", 1)
        opts[k] = float(v) if k in ("ra", "pr") else int(v) if k in ("n", "size", "seed") else v
    return opts


def solver_rate(facts: dict, threads: int, repeats: int = 30) -> dict:
    from genlab.sim.rayleigh_benard import RayleighBenard

    nz, nx = facts["solver_grid"]
    runs = int(facts["runs"])
    sampled_time = facts["nusselt_window"][1] - facts["nusselt_window"][0]
    per_run = round(sampled_time / facts["snapshot_spacing"])
    steps_per_snapshot = (facts["steps"] - facts["spin_up_steps"]) / per_run  # batched steps per spacing
    sim = RayleighBenard(facts["ra"], facts["pr"], aspect=facts["aspect"], nz=nz, nx=nx,
                         single=facts["precision"] == "float32", mean_flow=facts["mean_flow"])
    state = sim.initial(runs, seed=[0, 9], amplitude=0.1)
    dt = facts["dt_mean"]
    for _ in range(3):
        sim.step(state, dt)
    t = time.perf_counter()
    for _ in range(repeats):
        sim.step(state, dt)
    per_step = (time.perf_counter() - t) / repeats
    per_snapshot = steps_per_snapshot * per_step / runs
    return {"what": "solver", "grid": [nz, nx], "runs_per_batch": runs, "dt_mean": dt,
            "steps_per_snapshot_spacing": steps_per_snapshot, "seconds_per_step": per_step,
            "snapshots_per_second": 1.0 / per_snapshot, "threads": threads,
            "generation_wall_clock_snapshots_per_second": facts.get("snapshots_per_second")}


def emulator_rate(model, spec, batch: int, threads: int, repeats: int = 5) -> dict:
    model.eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        spec.normalizer.to_data(model.sample(batch, generator=g))
        t = time.perf_counter()
        for _ in range(repeats):
            x = spec.normalizer.to_data(model.sample(batch, generator=g))
        sec = (time.perf_counter() - t) / repeats
    return {"what": "emulator", "batch": batch, "shape": list(x.shape[1:]), "seconds_per_batch": sec,
            "snapshots_per_second": batch / sec, "threads": threads}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default=None, help="a trained emulator run (default: an untrained dcgan)")
    ap.add_argument("--threads", type=int, default=1, help="torch/numpy threads for both (default 1)")
    ap.add_argument("--batch", type=int, default=256, help="emulator batch (default 256)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.run:
        from genlab.runs import load_run

        r = load_run(args.run)
        data, model = load_dataset(r.config.data.name, "train", **r.config.data.options()), r.model
    else:
        import genlab

        data = load_dataset("rayleigh-benard", "train", **_options(extra))
        model = genlab.build("dcgan", data)
    facts = data.meta["simulation"]
    if facts.get("kind") != "rayleigh-benard":
        raise SystemExit("error: the run's data are not rayleigh-benard snapshots; give a convection run")
    s = solver_rate(facts, args.threads)
    print(json.dumps(s))
    e = emulator_rate(model, data.info.spec, args.batch, args.threads)
    print(json.dumps(e))
    print(json.dumps({"emulator_over_solver": e["snapshots_per_second"] / s["snapshots_per_second"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
