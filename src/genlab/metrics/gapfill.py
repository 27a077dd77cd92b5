"""The gap-fill evaluation of a run on real observations (`genlab eval RUN`, record kind "gap-fill").

Protocol (all of it in the record's protocol):
- Truth: the COADS monthly climatology of the run's variable (coads_climatology.cdf, 12 months, 90 x 180,
  2°), in its units ("Deg C" for SST: a difference in °C is the same in K).
- Hidden cells: `data.gaps.holdout_sets` with the run's hold-out seed (`data.seed` of a coads-holdout run, so
  exactly the cells its training data lacked; 0 for runs trained on other data): per month 10 % of the
  observed cells in 5 × 5-cell (10°) blocks, and another 10 % scattered. Each set is scored on its own:
  the inputs are every other observation of the month (the other set's cells included).
- Model: apply/impute.py `infill_on_run_grid`, the path of `genlab impute` (mapped onto the run's grid
  when it differs), composite = observations where known, the network's output at the hidden cells.
  Beside it "model+rk": the same network plus ordinary kriging of its leave-out residuals at the known
  cells (regression kriging, apply/residual_kriging.py; 10 folds, seeded by the hold-out seed), and
  "model+nb+rk": the same with the mean of the neighbouring months as a second predictor (its weight fitted
  by least squares on the leave-out outputs at the known cells, never on hidden cells). With
  `stack_anomaly` (`genlab eval --rk-anomaly`) also "model+nb+ak+rk": anomaly-kriging's estimate as a third
  predictor, fitted on its own leave-out estimates from the same folds (stacking; one more kriging of every
  known cell, several minutes).
- Baselines, from the same inputs: ordinary kriging, linear and nearest interpolation on the sphere
  (apply/gap_baselines.py: exponential variogram fitted per month by pykrige, 32-cell moving window), and
  anomaly-kriging, which also reads the neighbouring months (their mean plus the kriged anomaly).
- Scores (metrics/climate.py): cos(latitude)-weighted RMSE, MAE and bias at the hidden cells over all
  months; Pearson r of the monthly area-weighted means over the hidden cells (model vs truth).
- The bars (issue 15): RMSE at least 10 % below kriging and below linear; r ≥ 0.99 — for the network
  ("bars"), the network + residual kriging ("bars_rk") and with the neighbour predictor ("bars_rkn").
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import GenlabError
from . import climate

METHODS = ("kriging", "linear", "nearest", "anomaly-kriging")
RK = "model+rk"  # the network plus kriging of its leave-out residuals (apply/residual_kriging.py)
RKN = "model+nb+rk"  # the same, with the neighbouring months' mean as a covariate of the trend
RKA = "model+nb+ak+rk"  # and anomaly-kriging's estimate as a third predictor (stacked on leave-out estimates)
RK_ROWS = ((RK, "rk_", "bars_rk"), (RKN, "rkn_", "bars_rkn"), (RKA, "rka_", "bars_rka"))
SETS = ("points", "blocks")
FIGURE_MONTH = 3  # April (0-based), one of the coads dataset's test months


def gapfill_setup(config) -> Optional[dict]:
    """{'var', 'seed', 'how'} when a run was trained for COADS gap filling (coads-holdout data, or COADS
    gap masks `mask:coads[:VAR]` on other data), else None."""
    d = config.data
    if d.name == "coads-holdout":
        return {"var": (d.var or "sst").lower(), "seed": int(d.seed or 0),
                "how": f"trained on coads-holdout (hold-out seed {int(d.seed or 0)}): never on the hidden cells"}
    for item in (d.derive or "").split(","):
        parts = [s.strip() for s in item.split(":")]
        if parts[:2] == ["mask", "coads"]:
            return {"var": (parts[2] if len(parts) > 2 and parts[2] else "sst").lower(), "seed": 0,
                    "how": f"trained on {d.name} with COADS gap masks: never on COADS values"}
    return None


def coads_truth(var: str):
    """(values (12, 90, 180) float64 with NaN gaps, observed bool, Grid, units) of COADS `var`."""
    from ..apply.grids import Grid
    from ..data.climate import ferret_file
    from ..data.gaps import COADS_FILE
    from ..data.netcdf import load_netcdf

    ds = load_netcdf(ferret_file(COADS_FILE), var, split="all", name="coads")
    obs = ds.tensors["x_valid"][:, 0].numpy().astype(bool) if "x_valid" in ds.tensors else None
    if obs is None:
        raise GenlabError(f"COADS {var} has no gaps to evaluate on")
    values = np.where(obs, ds.tensors["x"][:, 0].numpy().astype(np.float64), np.nan)
    return values, obs, Grid.from_meta(ds.meta["coords"]), ds.meta["units"]


def evaluate_gapfill(r, *, methods: Optional[Sequence[str]] = None, figure_dir: Optional[Path] = None,
                     command: str = "", progress=None, residual_kriging: bool = True,
                     stack_anomaly: bool = False) -> dict:
    """The gap-fill record of a loaded run `r` (module docstring): values and protocol. residual_kriging: also
    score the network + kriging of its leave-out residuals (method "model+rk", apply/residual_kriging.py);
    stack_anomaly: also "model+nb+ak+rk" (needs residual_kriging)."""
    from ..apply.gap_baselines import anomaly_kriging_leave_out, fill_anomaly_months, fill_months, neighbour_mean
    from ..apply.residual_kriging import fold_ids, leave_out_outputs, residual_kriging as residual_kriging_fill
    from ..apply.grids import Grid
    from ..apply.impute import canonical_units, infill_on_run_grid
    from ..data.gaps import holdout_sets

    methods = tuple(METHODS if methods is None else methods)
    if stack_anomaly and not residual_kriging:
        raise GenlabError("the anomaly-kriging predictor is part of residual kriging; keep residual kriging on")
    setup = gapfill_setup(r.config)
    if setup is None:
        raise GenlabError("this run was not trained for COADS gap filling (data coads-holdout or "
                          "data.derive=mask:coads); genlab eval has no gap-fill protocol for it")
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise GenlabError(f"unknown gap-fill baseline(s) {bad}; choose from {', '.join(METHODS)}")
    model = r.model
    spec = r.info.fields[model.config.target]
    norm = spec.normalizer
    values, obs, grid, units = coads_truth(setup["var"])
    if canonical_units(units) != canonical_units(norm.units):
        raise GenlabError(f"the run was trained on {norm.units!r} but COADS {setup['var']} is in {units!r}")
    weights = climate.area_weights(grid.lat, grid.shape)
    hidden = dict(zip(SETS, holdout_sets(obs, seed=setup["seed"], periodic=grid.periodic)))
    run_grid = Grid.from_meta(r.meta.get("coords"))
    out: dict = {}
    maps: dict = {}
    timing: dict = {}
    for name, hid in hidden.items():
        known = obs & ~hid
        t0 = time.perf_counter()
        raw, _ = infill_on_run_grid(model, norm, run_grid, values, known, grid, context=r.meta.get("context"),
                                    context_known=obs)  # other months: every observation
        timing[f"{name}_model_s"] = time.perf_counter() - t0
        preds = {"model": np.where(hid, raw, np.nan)}
        ak_details = None
        if residual_kriging:
            t0 = time.perf_counter()
            loo = leave_out_outputs(lambda k: infill_on_run_grid(
                model, norm, run_grid, values, k, grid, context=r.meta.get("context"), context_known=obs)[0],
                values, known, seed=setup["seed"])
            timing[f"{name}_leave_out_s"] = time.perf_counter() - t0
            nb = neighbour_mean(values, obs, cyclic=True)  # months t ± 1, every observation (as anomaly-kriging)
            rows = [(RK, "rk_", (), ()), (RKN, "rkn_", (nb,), (nb,))]
            if stack_anomaly:
                t0 = time.perf_counter()
                ak, ak_details = fill_anomaly_months(values, known, hid, grid, context_known=obs, seed=setup["seed"])
                ak_loo = anomaly_kriging_leave_out(values, known, grid, context_known=obs, seed=setup["seed"],
                                                   fold=fold_ids(values.shape, seed=setup["seed"]))
                timing[f"{name}_anomaly_kriging_leave_out_s"] = time.perf_counter() - t0
                rows.append((RKA, "rka_", (nb, ak), (nb, ak_loo)))
            for who, tag, cov, cov_loo in rows:
                t0 = time.perf_counter()
                preds[who], rk = residual_kriging_fill(None, values, known, hid, grid, seed=setup["seed"],
                                                       base=raw, loo=loo, covariates=cov, covariates_loo=cov_loo)
                out[f"{name}_{tag}residual_rms"] = rk["residual_rms"]
                if cov:
                    out[f"{name}_{tag}coefficients"] = rk["coefficients"]
                timing[f"{name}_{who}_s"] = time.perf_counter() - t0
                if progress is not None:
                    progress(f"{name}: {who} done")
        details = {}
        for m in methods:
            t0 = time.perf_counter()
            if m == "anomaly-kriging" and ak_details is not None:  # computed above for the stacked row
                preds[m], details[m] = ak, ak_details
            elif m == "anomaly-kriging":
                preds[m], details[m] = fill_anomaly_months(values, known, hid, grid, context_known=obs,
                                                           seed=setup["seed"])
            else:
                preds[m], details[m] = fill_months(m, values, known, hid, grid, seed=setup["seed"])
            timing[f"{name}_{m}_s"] = time.perf_counter() - t0
            if progress is not None:
                progress(f"{name}: {m} done")
        for who, p in preds.items():
            s = climate.scores(p, values, hid, weights)
            for k in ("rmse", "mae", "bias", "corr_mean_series"):
                out[f"{name}_{who}_{k}"] = s[k]
            out[f"{name}_{who}_rmse_per_month"] = s["rmse_per_month"]
            if who == "model":
                out[f"{name}_mean_series"] = {"model": s["mean_series"], "truth": s["true_mean_series"]}
                out[f"{name}_n_cells"] = s["n_cells"]
        for m in methods:
            out[f"{name}_rmse_vs_{m}"] = 1.0 - out[f"{name}_model_rmse"] / out[f"{name}_{m}_rmse"]
            for who, tag, _ in RK_ROWS:
                if who in preds:
                    out[f"{name}_{tag}rmse_vs_{m}"] = 1.0 - out[f"{name}_{who}_rmse"] / out[f"{name}_{m}_rmse"]
        if "kriging" in methods:
            out[f"{name}_variogram_per_month"] = [d.get("variogram") for d in details["kriging"]]
        maps[name] = (raw, known, preds)
    out["bars"] = _bars(out, methods, "model", "")
    if residual_kriging:
        for who, tag, key in RK_ROWS:
            if f"{SETS[0]}_{who}_rmse" in out:
                out[key] = _bars(out, methods, who, tag)
    if figure_dir is not None:
        from ..viz.gapfill import save_maps

        save_maps(Path(figure_dir), values, obs, maps["blocks"], grid, month=FIGURE_MONTH, units=units,
                  command=command)
    protocol = _protocol(setup, methods, units, run_grid is None or run_grid.same_as(grid))
    if not stack_anomaly:
        protocol.pop(RKA)
    if getattr(model, "ctx_channels", 0):
        protocol["model_inputs"] = (f"the month's other observations and every observation of its neighbouring "
                                    f"months ({r.meta['context']['rule']}); the baselines use the month alone")
    out["time_s"] = timing
    return {**out, "protocol": protocol}


def _protocol(setup: dict, methods: Sequence[str], units: str, same_grid: bool) -> dict:
    from ..apply.gap_baselines import N_CLOSEST, N_FIT, VARIOGRAM
    from ..data.gaps import BLOCK, FRACTION

    return {
        "truth": f"COADS {setup['var']} monthly climatology (coads_climatology.cdf), 12 months, 90x180, 2°",
        "units": units, "hidden": f"per month {FRACTION:.0%} of observed cells in {BLOCK}x{BLOCK}-cell blocks "
        f"(set 'blocks') and {FRACTION:.0%} scattered (set 'points'), disjoint; each set scored on its own",
        "holdout_seed": setup["seed"], "training": setup["how"], "weights": "cos(latitude)",
        "baselines": ",".join(methods), "kriging": f"ordinary, {VARIOGRAM} variogram fitted per month (pykrige, "
        f"{N_FIT} seeded cells, 20 lags), {N_CLOSEST} nearest known cells", "linear": "scipy griddata on "
        "(lon, lat), cells within 60° copied across the seam; nearest: great-circle",
        "anomaly-kriging": "mean of months t-1 and t+1 (every observation, cyclic) plus kriging of the month's "
        "anomaly from it; plain kriging where neither neighbour observed the cell", "model_grid": "run grid" if same_grid else "mapped to the run's grid",
        RK: "the network plus ordinary kriging of its residuals at the known cells, each from a pass with its "
        "fold (1 of 10, seeded) hidden too (apply/residual_kriging.py)",
        RKN: f"as {RK}, with the trend f + a (n - f), n = the mean of months t-1 and t+1 (every observation, "
        "cyclic; no term where neither observed the cell), a fitted by least squares on the leave-out outputs at "
        "the known cells",
        RKA: f"as {RKN}, with anomaly-kriging's estimate as a further predictor: at the known cells its leave-out "
        "estimate from the same 10 folds, so the weights are fitted on out-of-sample predictions only (stacking)",
        "mean_series": "Pearson r over 12 months of cos(lat)-weighted means at the hidden cells",
    }


def _bars(out: dict, methods: Sequence[str], who: str, tag: str) -> dict:
    """Issue 15's bars per hidden set for method `who` (its gains stored under `{set}_{tag}rmse_vs_…`):
    RMSE ≥ 10 % below kriging, below linear; mean-series r ≥ 0.99."""
    bars = {}
    for s in SETS:
        if "kriging" in methods:
            bars[f"{s}_rmse_10pct_below_kriging"] = bool(out[f"{s}_{tag}rmse_vs_kriging"] >= 0.10)
        if "linear" in methods:
            bars[f"{s}_rmse_below_linear"] = bool(out[f"{s}_{tag}rmse_vs_linear"] > 0.0)
        bars[f"{s}_corr_at_least_0.99"] = bool(out[f"{s}_{who}_corr_mean_series"] >= 0.99)
    return bars


def summary_lines(res: dict) -> list[str]:
    """The record as a small table: per hidden set, RMSE / MAE / bias / mean-series r of each method."""
    units = res.get("protocol", {}).get("units", "")
    lines = []
    for s in SETS:
        lines.append(f"[{s}: {res.get(f'{s}_n_cells', 0)} hidden cells]   rmse   mae    bias   r(mean series)  ({units})")
        for who in ("model", RK, RKN, RKA) + METHODS:
            if f"{s}_{who}_rmse" not in res:
                continue
            lines.append(f"  {who:15s} {res[f'{s}_{who}_rmse']:6.3f} {res[f'{s}_{who}_mae']:6.3f} "
                         f"{res[f'{s}_{who}_bias']:+6.3f} {res[f'{s}_{who}_corr_mean_series']:7.4f}")
        vs = ", ".join(f"{1e2 * res[f'{s}_rmse_vs_{m}']:+.1f} % vs {m}" for m in METHODS if f"{s}_rmse_vs_{m}" in res)
        lines.append(f"  model RMSE below: {vs}")
        for who, tag, _ in RK_ROWS:
            if f"{s}_{tag}rmse_vs_kriging" in res:
                vs = ", ".join(f"{1e2 * res[f'{s}_{tag}rmse_vs_{m}']:+.1f} % vs {m}" for m in METHODS
                               if f"{s}_{tag}rmse_vs_{m}" in res)
                coef = res.get(f"{s}_{tag}coefficients")
                lines.append(f"  {who} RMSE below: {vs} (leave-out residual rms {res[f'{s}_{tag}residual_rms']:.3f}"
                             + (f", covariate weight(s) {', '.join(f'{c:.3f}' for c in coef)})" if coef else ")"))
    for who, key in (("model", "bars"), (RK, "bars_rk"), (RKN, "bars_rkn"), (RKA, "bars_rka")):
        if key not in res:
            continue
        met = [k for k, v in res[key].items() if v]
        missed = [k for k, v in res[key].items() if not v]
        lines.append(f"bars ({who}) met: {', '.join(met) or 'none'}; missed: {', '.join(missed) or 'none'}")
    return lines
