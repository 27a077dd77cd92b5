"""`genlab explore RUN style-mix | truncation`: the StyleGAN figures (genlab.explore.style), for runs whose
model has per-layer styles (capabilities to_w and decode_w: stylegan).

style-mix   --coarse SEEDS (rows) give their styles in --layers (default coarse) to the --fine SEEDS
            (columns), which give all other styles; a plain image grid like the paper's Fig. 3
truncation  one row per --seeds, one column per --psi: w' = w̄ + ψ (w − w̄)
"""
from __future__ import annotations

import torch

from ..errors import GenlabError


def add_parsers(sub, common) -> list:
    """Add the two subcommands to `sub` (the explore subparsers); returns [(parser, function)]."""
    m = sub.add_parser("style-mix", parents=[common], help="style-mixing grid: the rows' styles in --layers over "
                       "the columns' latents")
    m.add_argument("--coarse", "--rows", dest="rows", default="1,2,3",
                   help="seeds of the rows, whose styles in --layers are copied (default 1,2,3)")
    m.add_argument("--fine", "--cols", dest="cols", default="4,5,6,7,8",
                   help="seeds of the columns, which give every other style (default 4,5,6,7,8)")
    m.add_argument("--layers", default="coarse", help="styles taken from the rows: coarse, middle, fine "
                   "(by resolution, docs/stylegan.md) or style indices A-B (default coarse)")
    m.add_argument("--psi", type=float, default=None, help="truncation ψ of every w (default: the run's "
                   "model.truncation)")
    t = sub.add_parser("truncation", parents=[common], help="truncation sweep: one row per seed, one column per ψ")
    t.add_argument("--psi", default="1,0.7,0.5,0", help="values of ψ, comma-separated (default 1,0.7,0.5,0)")
    t.add_argument("--seeds", default="0,1,2,3,4,5", help="seeds of the rows (default 0,1,2,3,4,5)")
    return [(m, style_mix), (t, truncation)]


def _model(ctx):
    model = ctx.run.model
    if not {"to_w", "decode_w"} <= model.capabilities() or not model.style_resolutions():
        raise GenlabError(f"model {ctx.run.config.model_name} has no per-layer styles; "
                          f"'{ctx.args.explore_command}' needs a stylegan run")
    return model


def _z(model, seeds: list[int]) -> torch.Tensor:
    """One prior latent per seed, as `explore interpolate --from-seed` draws it."""
    dev = model.device
    return torch.cat([model.sample_latent(1, generator=torch.Generator(dev).manual_seed(s)) for s in seeds])


@torch.no_grad()
def style_mix(ctx):
    from ..explore.style import layer_indices, style_mix as grid
    from ..viz.grid import save_grid
    from .explore import _ints

    a = ctx.args
    model = _model(ctx)
    rows, cols = _ints("--coarse", a.rows), _ints("--fine", a.cols)
    if not rows or not cols:
        raise GenlabError("style-mix needs at least one seed in --coarse and in --fine, e.g. --coarse 1,2 --fine 3,4")
    res = model.style_resolutions()
    layers = layer_indices(res, a.layers)
    w_rows, w_cols = model.to_w(_z(model, rows), psi=a.psi), model.to_w(_z(model, cols), psi=a.psi)
    cells = grid(model.decode_w, w_rows, w_cols, layers, len(res)).float().cpu()
    save_grid(cells, ctx.out, nrow=len(cols) + 1)
    psi = model.config.truncation if a.psi is None else a.psi
    return (f"style mixing: rows (seeds {a.rows}) give styles {layers[0]}-{layers[-1]} ({a.layers}, "
            f"{res[layers[0]]}-{res[layers[-1]]} px) to columns (seeds {a.cols}); ψ={psi:g}", [ctx.out])


@torch.no_grad()
def truncation(ctx):
    from ..explore.style import truncation_sweep
    from .explore import _floats, _ints, _save

    a = ctx.args
    model = _model(ctx)
    seeds, psis = _ints("--seeds", a.seeds), _floats("--psi", a.psi)
    if not seeds or not psis:
        raise GenlabError("truncation needs --seeds and --psi, e.g. --seeds 0,1,2 --psi 1,0.7,0.5,0")
    if any(p < 0 for p in psis):
        raise GenlabError(f"--psi {a.psi} has a negative value; ψ is in [0, 1] (above 1 extrapolates)")
    panel = truncation_sweep(model.to_w, model.decode_w, _z(model, seeds), psis, [f"seed {s}" for s in seeds])
    panel.title = f"{ctx.run.config.model_name}: {panel.title}"
    caption = f"truncation sweep of {len(seeds)} seed(s) over ψ = {a.psi} (ψ = 0 is G(w̄) for every seed)"
    return caption, _save(ctx, panel)
