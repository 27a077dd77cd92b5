"""`genlab density RUN [RUN ...] --out fig.png`: for 1-D/2-D toy runs, the true density (where the
dataset's mixture is known), the learned density exp(−NLL) of each run (exact for flows, KDE, GMM) and
their samples, side by side."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..data import load_dataset
from ..errors import GenlabError
from ..runs import load_run
from .common import add_device, add_force, add_n, add_out, device, out_path, positive_int, say


def add_parser(sub) -> None:
    p = sub.add_parser("density", help="1-D/2-D toy runs: true vs learned density and samples, side by side")
    p.add_argument("runs", nargs="+", help="one or more run directories on the same toy dataset")
    add_out(p, "output .png", required=True)
    add_n(p, 2000, "samples drawn per run")
    p.add_argument("--grid", type=int, default=200, help="grid points per axis (default 200)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    add_device(p)
    add_force(p)
    p.set_defaults(func=run)


def true_log_density(pts: np.ndarray, centres, std, weights) -> np.ndarray:
    """log Σ_m w_m N(x; c_m, std² I) on points (N, d)."""
    c = np.asarray(centres, dtype=np.float64)
    w = np.full(len(c), 1.0 / len(c)) if weights is None else np.asarray(weights, dtype=np.float64)
    d = pts.shape[1]
    sq = ((pts[:, None, :] - c[None]) ** 2).sum(-1)  # (N, M)
    logs = np.log(w)[None] - sq / (2 * std ** 2) - 0.5 * d * math.log(2 * math.pi * std ** 2)
    mx = logs.max(1, keepdims=True)
    return (mx + np.log(np.exp(logs - mx).sum(1, keepdims=True)))[:, 0]


def _grid(real: np.ndarray, n: int) -> tuple[list[np.ndarray], np.ndarray]:
    lo, hi = np.percentile(real, 0.5, 0), np.percentile(real, 99.5, 0)
    pad = 0.15 * (hi - lo) + 1e-3
    axes = [np.linspace(lo[i] - pad[i], hi[i] + pad[i], n) for i in range(real.shape[1])]
    if real.shape[1] == 1:
        return axes, axes[0][:, None]
    gx, gy = np.meshgrid(axes[0], axes[1], indexing="xy")
    return axes, np.stack([gx.ravel(), gy.ravel()], 1)


def _panel(ax, axes, pts_density, title, dim):
    if dim == 1:
        ax.plot(axes[0], pts_density, lw=1.5)
        ax.set_ylim(bottom=0)
    else:
        ax.imshow(pts_density.reshape(len(axes[1]), len(axes[0])), origin="lower", cmap="viridis",
                  extent=(axes[0][0], axes[0][-1], axes[1][0], axes[1][-1]), aspect="auto")
    ax.set_title(title, fontsize=9)


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positive_int("-n", args.n)
    positive_int("--grid", args.grid)
    out = out_path(args.out, args.force, (".png",))
    dev = device(args.device)
    loaded = [load_run(r, device=dev) for r in args.runs]
    first = loaded[0]
    dim = first.info.dims
    if first.info.is_image or dim > 2:
        raise GenlabError(f"genlab density draws 1-D/2-D toy runs; {first.run_dir} has data of shape "
                          f"{first.info.shape} (use genlab sample for images)")
    if any(r.config.data.name != first.config.data.name or r.info.shape != first.info.shape for r in loaded):
        raise GenlabError("all runs given to genlab density must use the same toy dataset and dimension")
    d = first.config.data
    data = load_dataset(d.name, d.eval_split, **d.options())
    real = data.all().numpy()[:5000]
    axes, pts = _grid(real, args.grid)
    cols = 1 + len(loaded)
    fig, ax = plt.subplots(2, cols, figsize=(3.6 * cols, 7), squeeze=False)
    meta = {**first.meta, **{k: v for k, v in data.meta.items() if v is not None}}
    if meta.get("centres") is not None and meta.get("std") is not None:
        dens = np.exp(true_log_density(pts, meta["centres"], float(meta["std"]), meta.get("weights")))
        _panel(ax[0, 0], axes, dens, f"true density ({d.name})", dim)
    else:
        ax[0, 0].axis("off")
        ax[0, 0].set_title(f"true density of {d.name} not known", fontsize=9)
    _scatter(ax[1, 0], real, "real test data", dim)
    for k, r in enumerate(loaded, start=1):
        name = r.config.model_name
        if "nll" in r.model.capabilities():
            with torch.no_grad():
                nll = torch.cat([r.model.nll(torch.from_numpy(c).float().to(dev)).float().cpu()
                                 for c in np.array_split(pts, max(1, len(pts) // 4000))])
            _panel(ax[0, k], axes, np.exp(-nll.numpy()), f"{name}: learned density (exact)", dim)
        else:
            ax[0, k].axis("off")
            ax[0, k].set_title(f"{name}: no density", fontsize=9)
        g = torch.Generator(dev).manual_seed(args.seed)
        with torch.no_grad():
            s = r.model.sample(args.n, generator=g).float().cpu().numpy()
        _scatter(ax[1, k], s, f"{name}: {args.n} samples", dim, lim=(axes[0], axes[-1]))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    say(f"wrote {out}: true density, learned densities and samples of {len(loaded)} run(s)")
    return 0


def _scatter(ax, pts: np.ndarray, title: str, dim: int, lim=None) -> None:
    if dim == 1:
        ax.hist(pts[:, 0], bins=80, density=True, alpha=0.6, range=None if lim is None else (lim[0][0], lim[0][-1]))
    else:
        ax.scatter(pts[:, 0], pts[:, 1], s=1.5, alpha=0.4)
        if lim is not None:
            ax.set_xlim(lim[0][0], lim[0][-1])
            ax.set_ylim(lim[1][0], lim[1][-1])
    ax.set_title(title, fontsize=9)
