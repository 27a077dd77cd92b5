"""`genlab impute RUN --input FILE.nc --var NAME --out FILLED.nc [--units U] [--force]`: fill the gaps of a
gridded netCDF variable with a trained inpaint run (Kadow et al. 2020's use of a partial-convolution U-Net).

The variable is read with its coordinates and attributes; _FillValue / missing_value / valid range, and NaN
or inf (reported when the file does not declare them), are the gaps. Every field (each time step, level, ...)
is mapped onto the grid the run was trained on (exactly when it is the same grid; bilinear otherwise, gaps by
nearest cell), infilled there, and mapped back. FILLED.nc has the input's coordinates, dimension order,
attributes and fill value, with the variables gt (the input), mask (1 = known), output (the raw network output)
and infilled (gt where known, output in the gaps), as CRAI writes them. Refused in one line, with nothing
written (apply/impute.py lists them): a missing variable, other units, an undeclared fill value, a grid that
cannot be mapped, fields with no known value, an existing --out without --force, --out = --input.
"""
from __future__ import annotations

import shlex
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import GenlabError
from .common import add_device, add_force, add_out, device, say, warn


def add_parser(sub) -> None:
    p = sub.add_parser("impute", help="fill the gaps of a netCDF variable with an inpaint run (gt, mask, output, "
                       "infilled)")
    p.add_argument("run", help="run directory of an inpaint model trained on physical fields")
    p.add_argument("--input", required=True, help="netCDF file (netCDF3 or netCDF4)")
    p.add_argument("--var", required=True, help="variable to fill (case-insensitive); a missing one lists the file's")
    add_out(p, "netCDF file to write (an existing file is refused unless --force)", required=True)
    p.add_argument("--units", default=None, help="units of the variable when the file has no units attribute "
                   "(must be the run's)")
    p.add_argument("--batch", type=int, default=4, help="fields per network call (default 4)")
    p.add_argument("--ensemble", default="", metavar="RUN2,RUN3", help="average the outputs of these runs with "
                   "RUN's (the same model and data, another train.seed; apply/ensemble.py)")
    p.add_argument("--residual-kriging", action="store_true", help="add ordinary kriging of the network's "
                   "leave-out residuals at the known cells to its output in the gaps (regression kriging, "
                   "apply/residual_kriging.py; 11 network passes and one kriging per field)")
    p.add_argument("--rk-neighbours", action="store_true", help="with --residual-kriging: also regress on the mean "
                   "of each field's neighbouring time steps (t-1, t+1; cyclic for a run trained on a climatology "
                   "of its period), its weight fitted on the leave-out outputs")
    p.add_argument("--no-ema", action="store_true", help="use live weights even if EMA weights exist")
    add_device(p)
    add_force(p)
    p.set_defaults(func=run)


def _check_paths(args) -> Path:
    out, inp = Path(args.out), Path(args.input)
    if out.suffix.lower() not in (".nc", ".nc4", ".cdf"):
        raise GenlabError(f"--out {args.out!r} must be a netCDF file name ending in .nc")
    if not inp.is_file():
        raise GenlabError(f"--input {args.input!r} does not exist; give a netCDF file")
    if out.exists() and out.resolve() == inp.resolve():
        raise GenlabError("--out is the --input file; write the result to another file")
    if out.is_dir():
        raise GenlabError(f"--out {args.out!r} is a directory; give a file name")
    if out.exists() and not args.force:
        raise GenlabError(f"{args.out!r} already exists; choose another --out or add --force to replace it")
    if not out.parent.is_dir():
        raise GenlabError(f"the directory of --out ({str(out.parent)!r}) does not exist; create it first")
    if args.batch < 1:
        raise GenlabError(f"--batch {args.batch} must be >= 1")
    return out


def run(args) -> int:
    from ..apply.grids import Grid
    from ..apply.impute import infill_on_run_grid, read_input, write_imputed
    from ..runs import load_run

    out = _check_paths(args)
    from ..apply.ensemble import with_members

    r = load_run(args.run, device=device(args.device), use_ema=not args.no_ema)
    if "infill" not in r.model.capabilities():
        raise GenlabError(f"run {args.run} is a {r.config.model_name!r} model, which does not fill gaps; use an "
                          "inpaint run (genlab train inpaint --data coads-holdout --data.derive=mask:coads:sst:0.2)")
    spec = r.info.fields[r.config.model.target]
    if spec.kind != "field" or spec.shape[0] != 1:
        what = "images" if spec.kind == "image" else f"{spec.shape[0]} channels"
        raise GenlabError(f"run {args.run} was trained on {what}; genlab impute fills one physical field (one "
                          "channel in physical units) at a time")
    r = with_members(r, args.ensemble, device=device(args.device), use_ema=not args.no_ema)
    model = r.model
    norm = spec.normalizer
    t0 = time.perf_counter()
    inp = read_input(args.input, args.var, run_units=norm.units, offset=norm.offset[0], scale=norm.scale[0],
                     units=args.units)
    run_grid = Grid.from_meta(r.meta.get("coords"))
    if getattr(model, "ctx_channels", 0) and len(inp.lead) > 1:
        raise GenlabError(f"this run fills each field from its neighbouring time steps, but {inp.var} has "
                          f"{len(inp.lead)} dimensions besides latitude/longitude {inp.lead}; select one series "
                          "(e.g. one depth with ncks -d) and retry")
    if args.rk_neighbours and not args.residual_kriging:
        raise GenlabError("--rk-neighbours is a predictor of --residual-kriging; add --residual-kriging")
    if args.rk_neighbours and len(inp.values) < 2:
        raise GenlabError(f"--rk-neighbours needs neighbouring time steps, but {inp.var} holds one field; give the "
                          "whole series or drop --rk-neighbours")
    if args.residual_kriging and inp.grid is None:
        raise GenlabError(f"--residual-kriging needs the latitude/longitude of {inp.var}'s cells, and the file has "
                          "no 1-D lat/lon coordinates; add them or drop --residual-kriging")

    def net(known):
        return infill_on_run_grid(model, norm, run_grid, inp.values, known, inp.grid, batch=args.batch,
                                  context=r.meta.get("context"), context_known=inp.known)

    output, notes = net(inp.known)
    if args.residual_kriging:
        from ..apply.residual_kriging import residual_kriging

        gaps_in = ~inp.known & np.isfinite(output)
        cov = ()
        if args.rk_neighbours:
            from ..apply.gap_baselines import neighbour_mean
            from ..apply.impute import context_is_cyclic

            cyclic = context_is_cyclic(r.meta.get("context"), len(inp.values))
            cov = (neighbour_mean(inp.values, inp.known, cyclic=cyclic),)
        hybrid, rk = residual_kriging(lambda k: net(k)[0], inp.values, inp.known, gaps_in, inp.grid, base=output,
                                      covariates=cov)
        output = np.where(gaps_in, hybrid, output)
        notes.append(f"residual kriging: leave-out residual rms {rk['residual_rms']:.3g} {inp.units} at the known "
                     "cells, kriged into the gaps" + (f"; neighbour-mean weight {rk['coefficients'][0]:.3f}"
                                                      if cov else ""))
    infilled = np.where(inp.known, inp.values, output)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    words = [args.run, "--input", args.input, "--var", args.var, "--out", args.out] + \
        (["--units", args.units] if args.units else []) + (["--ensemble", args.ensemble] if args.ensemble else []) + \
        (["--residual-kriging"] if args.residual_kriging else []) + (["--rk-neighbours"] if args.rk_neighbours else [])
    history = f"{stamp} genlab impute (step {r.step}): genlab impute " + " ".join(shlex.quote(w) for w in words)
    write_imputed(out, inp, output, infilled, history=history, force=args.force)
    for n in inp.notes + notes:
        warn(n)
    gaps = int((~inp.known).sum())
    left = int(np.isnan(infilled).sum())
    say(f"filled {gaps - left} of {gaps} missing cells of {inp.var} ({len(inp.values)} field(s) of "
        f"{inp.values.shape[1]}x{inp.values.shape[2]}, {inp.known.mean():.1%} known, {inp.units}) into {out} in "
        f"{time.perf_counter() - t0:.1f} s: variables gt, mask, output, infilled"
        + (f"; {left} cells outside the run's grid stay missing" if left else ""))
    return 0
