"""Climate gap filling (issue 15, item 3): train an inpaint run on COADS with real gap masks, score it on the
held-out real observations beside kriging / linear / nearest, and draw the map.

    .venv/bin/python benchmarks/climate_gaps.py [--run runs/climate-gaps] [--steps 3000] [--threads 2]
                                                [--cpu-sized] [--context K] [--eval-only]
                                                [--figure docs/restoration/PNG] [--ensemble RUN2,…]
                                                [--rk-anomaly]

Training (or resuming; a finished run is a no-op): `genlab train inpaint --data coads-holdout
--data.derive=mask:coads:sst:0.2` — COADS SST with the evaluation's hidden cells removed (data/gaps.py), masks
= another month's real observation gaps AND 20 % more hidden (scattered and 10° blocks), the loss only on
cells that are observed and hidden (the inpaint model multiplies by x_valid). --cpu-sized: a U-Net of
depth 4, base 16 (about 0.5 M parameters; ~5 s per step of 4 fields on the loaded 2-core CPU); default: depth
4, base 32, max 256 channels. Then `genlab eval RUN` (record kind gap-fill, RUN/gapfill/gapfill-map.png),
and the table printed from the record; --figure copies the map. --context K gives the network the K
neighbouring months on each side as extra input channels with their own masks (`data.context=K`,
`model.context_field=x_months`; the baselines still see the month alone).

    .venv/bin/python benchmarks/climate_gaps.py --sources

measures what other training data would bring (docs/restoration.md, "Training data"): the cos(lat)-weighted
RMSE, over COADS's observed SST cells, of the World Ocean Atlas monthly temperature at 0 m of the same month
(ferret-datasets' ocean_atlas_subset.nc, 2° grid shifted by 0.5°, mapped with apply/grids.py `regrid`), and of
the mean of COADS's own two neighbouring months.

    .venv/bin/python benchmarks/climate_gaps.py --run RUN --base-only

scores a `model.residual=context_mean` run's base alone — U's departure set to zero, so the output is b,
the neighbours' mean with its local-mean fallback — on the hidden cells, through the evaluation's code path.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
GENLAB = [sys.executable, "-m", "genlab"]

DATA = ["--data", "coads-holdout", "--data.derive=mask:coads:sst:0.2"]
FULL = ["--model.depth=4", "--model.base=32", "--model.max_channels=256"]
CPU_SIZED = ["--model.depth=4", "--model.base=16", "--model.max_channels=128"]
COMMON = ["--train.batch_size=4", "--train.lr=1e-3", "--train.log_every=10", "--train.ckpt_every=100",
          "--train.progress=false"]


def train(run: Path, steps: int, threads: int, cpu_sized: bool, context: int = 0, extra: tuple = ()) -> None:
    if (run / "model.safetensors").is_file():
        print(f"{run}: finished, not retrained")
        return
    size = CPU_SIZED if cpu_sized else FULL
    if (run / "config.yaml").is_file():
        cmd = GENLAB + ["train", "--resume", str(run)]
    else:
        ctx = [f"--data.context={context}", "--model.context_field=x_months"] if context else []
        cmd = GENLAB + ["train", "inpaint", *DATA, *ctx, *size, *COMMON, f"--train.steps={steps}",
                        f"--train.threads={threads}", *extra, "--out", str(run)]
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)


def evaluate(run: Path, ensemble: str = "", rk_anomaly: bool = False) -> dict:
    cmd = GENLAB + ["eval", str(run)] + (["--ensemble", ensemble] if ensemble else []) + \
        (["--rk-anomaly"] if rk_anomaly else [])
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)
    records = json.loads((run / "metrics.json").read_text())["records"]
    mine = [r for r in records if r["kind"] == "gap-fill" and bool(ensemble) == ("ensemble" in r["protocol"])
            and rk_anomaly == ("model+nb+ak+rk" in r["protocol"])]
    return max(mine, key=lambda r: r.get("recorded_at") or "")


def table(rec: dict) -> str:
    v = rec["values"]
    units = rec["protocol"]["units"]
    rows = ["| method | scattered RMSE | MAE | r | blocks RMSE | MAE | r |", "|---|---|---|---|---|---|---|"]
    for who in ("model", "model+rk", "model+nb+rk", "model+nb+ak+rk", "kriging", "linear", "nearest", "anomaly-kriging"):
        if f"points_{who}_rmse" not in v:
            continue
        cells = []
        for s in ("points", "blocks"):
            cells += [f"{v[f'{s}_{who}_rmse']:.3f}", f"{v[f'{s}_{who}_mae']:.3f}",
                      f"{v[f'{s}_{who}_corr_mean_series']:.4f}"]
        rows.append(f"| {who} | " + " | ".join(cells) + " |")
    gains = "; ".join(f"{s}: {1e2 * v[f'{s}_rmse_vs_kriging']:+.1f} % vs kriging, {1e2 * v[f'{s}_rmse_vs_linear']:+.1f} "
                      "% vs linear" for s in ("points", "blocks"))
    for who, tag in (("model+rk", "rk_"), ("model+nb+rk", "rkn_"), ("model+nb+ak+rk", "rka_")):
        if f"points_{tag}rmse_vs_kriging" in v:
            gains += f"; {who}: " + "; ".join(f"{s}: {1e2 * v[f'{s}_{tag}rmse_vs_kriging']:+.1f} % vs kriging, "
                                              f"{1e2 * v[f'{s}_{tag}rmse_vs_linear']:+.1f} % vs linear"
                                              for s in ("points", "blocks"))
    if "points_rkn_coefficients" in v:
        gains += "; neighbour-mean weight " + ", ".join(f"{s} {v[f'{s}_rkn_coefficients'][0]:.3f}"
                                                        for s in ("points", "blocks"))
    if "points_rka_coefficients" in v:
        gains += "; neighbour-mean / anomaly-kriging weights " + ", ".join(
            f"{s} " + " / ".join(f"{c:.3f}" for c in v[f"{s}_rka_coefficients"]) for s in ("points", "blocks"))
    members = f"; {rec['protocol']['ensemble']}" if "ensemble" in rec["protocol"] else ""
    return "\n".join(rows) + f"\n\n({units}, step {rec['step']}{members}; RMSE below the baseline: {gains})"


def sources() -> None:
    import numpy as np
    import xarray as xr

    from genlab.apply.grids import Grid, regrid
    from genlab.metrics import climate
    from genlab.metrics.gapfill import coads_truth

    values, obs, grid, units = coads_truth("sst")
    w = climate.area_weights(grid.lat, grid.shape)
    woa = xr.open_dataset("/usr/share/ferret-vis/data/ocean_atlas_subset.nc", decode_times=False)
    t0 = woa.TEMP.isel(ZAXLEVIT19=0).values.astype(np.float64)  # (12, 90, 180), NaN over land
    wgrid = Grid.of(woa.YAX_SUBSET.values, woa.XAX_SUBSET.values)
    on_coads, known = regrid(t0, np.isfinite(t0), wgrid, grid)
    print(f"| month | WOA 0 m same month | mean of COADS's neighbouring months |   ({units}, cos(lat)-weighted RMSE)")
    print("|---|---|---|")
    both_w, both_n = [], []
    for m in range(12):
        a = obs[m] & known[m]
        nb = 0.5 * (values[m - 1] + values[(m + 1) % 12])
        b = obs[m] & np.isfinite(nb)
        rw, rn = climate.rmse(on_coads[m], values[m], a, w), climate.rmse(nb, values[m], b, w)
        both_w.append(rw)
        both_n.append(rn)
        print(f"| {m + 1} | {rw:.3f} ({a.sum() / obs[m].sum():.0%} of cells) | {rn:.3f} ({b.sum() / obs[m].sum():.0%}) |")
    print(f"| mean | {np.mean(both_w):.3f} | {np.mean(both_n):.3f} |")


def base_only(run: Path) -> None:
    """A model.residual=context_mean run scored with U's departure set to zero: its base b alone (the
    neighbours' mean, the local-mean fallback), on the same hidden cells and through the same code path."""
    import numpy as np
    import torch

    from genlab.apply.grids import Grid
    from genlab.apply.impute import infill_on_run_grid
    from genlab.data.gaps import holdout_sets
    from genlab.metrics import climate
    from genlab.metrics.gapfill import SETS, coads_truth, gapfill_setup
    from genlab.runs import load_run

    r = load_run(run)
    model = r.model
    if getattr(model, "residual", "none") == "none":
        raise SystemExit(f"{run} was trained without model.residual; it has no base to score")
    norm = r.info.fields[model.config.target].normalizer
    setup = gapfill_setup(r.config)
    values, obs, grid, units = coads_truth(setup["var"])
    w = climate.area_weights(grid.lat, grid.shape)
    model.network.forward = lambda xg, m: torch.zeros(xg.shape[0], model.channels, *xg.shape[2:])
    print(f"| set | base RMSE | MAE |   ({units}; {run}, U's departure set to zero)")
    print("|---|---|---|")
    for name, hid in zip(SETS, holdout_sets(obs, seed=setup["seed"], periodic=grid.periodic)):
        raw, _ = infill_on_run_grid(model, norm, Grid.from_meta(r.meta.get("coords")), values, obs & ~hid, grid,
                                    context=r.meta.get("context"), context_known=obs)
        sc = climate.scores(np.where(hid, raw, np.nan), values, hid, w)
        print(f"| {name} | {sc['rmse']:.3f} | {sc['mae']:.3f} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default="runs/climate-gaps", help="run directory (trained or resumed here)")
    p.add_argument("--steps", type=int, default=3000, help="training steps (default 3000)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--cpu-sized", action="store_true", help="the smaller U-Net (depth 4, base 16)")
    p.add_argument("--context", type=int, default=0, help="K neighbouring months on each side as input channels "
                   "(data.context=K, model.context_field=x_months; default 0: the month alone)")
    p.add_argument("--set", action="append", default=[], metavar="--SECTION.KEY=VALUE",
                   help="another training flag (repeatable), e.g. --set=--data.seed=1 for a tuning run whose "
                        "hidden cells are another seed's")
    p.add_argument("--eval-only", action="store_true", help="evaluate the run as it is (latest checkpoint)")
    p.add_argument("--figure", default=None, help="copy the gap-fill map here (e.g. docs/restoration/PNG)")
    p.add_argument("--sources", action="store_true", help="only measure other training sources against COADS")
    p.add_argument("--base-only", action="store_true", help="score a residual run's base alone (U set to zero)")
    p.add_argument("--rk-anomaly", action="store_true", help="also score model+nb+ak+rk (genlab eval --rk-anomaly)")
    p.add_argument("--ensemble", default="", metavar="RUN2,RUN3", help="evaluate RUN averaged with these runs "
                   "(genlab eval --ensemble; same model and data, other train.seed)")
    a = p.parse_args(argv)
    if a.sources:
        sources()
        return 0
    if a.base_only:
        base_only(Path(a.run))
        return 0
    run = Path(a.run)
    if not a.eval_only:
        train(run, a.steps, a.threads, a.cpu_sized, a.context, tuple(a.set))
    rec = evaluate(run, a.ensemble, a.rk_anomaly)
    print(table(rec))
    if a.figure:
        shutil.copyfile(run / "gapfill" / "gapfill-map.png", a.figure)
        print(f"figure: {a.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
