"""The gap-fill map: truth, mask, infilled field and errors at the hidden cells for one month."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def _show(ax, field, grid, title, cmap, vmin, vmax, label):
    order = np.argsort(grid.lat)
    extent = (float(grid.lon.min()), float(grid.lon.max()), float(grid.lat.min()), float(grid.lat.max()))
    cm = plt.get_cmap(cmap).copy() if isinstance(cmap, str) else cmap
    cm.set_bad("#d0d0d0")
    im = ax.imshow(np.ma.masked_invalid(field[order]), origin="lower", extent=extent, cmap=cm, vmin=vmin,
                   vmax=vmax, aspect="auto", interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("longitude (°E)", fontsize=7)
    ax.set_ylabel("latitude (°N)", fontsize=7)
    ax.tick_params(labelsize=7)
    if label is None:
        return
    cb = plt.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    cb.ax.tick_params(labelsize=7)
    cb.set_label(label, fontsize=7)


def save_maps(folder: Path, values: np.ndarray, observed: np.ndarray, result: tuple, grid, *, month: int,
              units: str, command: str = "", name: str = "gapfill-map.png") -> Path:
    """Write folder/name: truth | mask | infilled over errors (model, kriging, linear) at the hidden cells of
    `month`, for one hidden set's (raw output, known, predictions); folder/index.json gets its caption."""
    raw, known, preds = result
    t = month
    hid = observed[t] & ~known[t]
    truth = values[t]
    lo, hi = np.nanpercentile(truth, [1, 99])
    infilled = np.where(known[t], truth, raw[t])
    cats = np.where(hid, 2.0, np.where(known[t], 1.0, 0.0))
    fig, axes = plt.subplots(2, 3, figsize=(15, 6.4))
    _show(axes[0, 0], truth, grid, f"truth: COADS observations, {MONTHS[t]}", "RdYlBu_r", lo, hi, units)
    _show(axes[0, 1], cats, grid, "mask: grey never observed, blue input, red hidden",
          ListedColormap(["#d0d0d0", "#9ecae1", "#d62728"]), -0.5, 2.5, None)
    _show(axes[0, 2], infilled, grid, "infilled: input + network output elsewhere", "RdYlBu_r", lo, hi, units)
    errs = {k: np.where(hid, preds[k][t] - truth, np.nan) for k in ("model", "kriging", "linear") if k in preds}
    lim = max(float(np.nanpercentile(np.abs(e), 99)) for e in errs.values()) if errs else 1.0
    w = np.cos(np.deg2rad(grid.lat))[:, None] * np.ones_like(truth)
    for ax, (k, e) in zip(axes[1], errs.items()):
        rm = float(np.sqrt(np.nansum(w * e ** 2) / np.sum(w[hid])))
        _show(ax, e, grid, f"error of {k} at hidden cells (RMSE {rm:.3f} {units})", "RdBu_r", -lim, lim, units)
    for ax in axes[1][len(errs):]:
        ax.axis("off")
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / name
    fig.savefig(out, dpi=80)
    plt.close(fig)
    idx = folder / "index.json"
    index = json.loads(idx.read_text()) if idx.is_file() else {}
    index[name] = {"caption": f"{MONTHS[t]}, hidden blocks: truth | mask | infilled over the errors of the model, "
                              f"kriging and linear interpolation at the hidden cells ({units})", "command": command}
    idx.write_text(json.dumps(index, indent=1))
    return out
