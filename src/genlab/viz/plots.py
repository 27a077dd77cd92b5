"""Matplotlib figures saved to files: loss curves from metrics.jsonl, 2-D sample scatters."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from torch import Tensor  # noqa: E402


def read_metrics(path: Path) -> list[dict]:
    rows = []
    if Path(path).is_file():
        for line in Path(path).read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash is skipped, not fatal
    return rows


def loss_curves(metrics_jsonl: Path, out: Path, title: str = "") -> Path:
    """One panel per logged loss term against step (samples/s and time excluded)."""
    rows = read_metrics(metrics_jsonl)
    keys = [k for k in (rows[0] if rows else {}) if k not in ("step", "samples_per_s", "time_s", "lr")]
    keys = sorted({k for r in rows for k in r} - {"step", "samples_per_s", "time_s"} - {"lr"}) or keys
    n = max(1, len(keys))
    cols = min(3, n)
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(4.2 * cols, 3 * ((n + cols - 1) // cols)),
                             squeeze=False)
    for ax, k in zip(axes.flat, keys):
        pts = [(r["step"], r[k]) for r in rows if isinstance(r.get(k), (int, float))]
        if pts:
            s, v = zip(*pts)
            ax.plot(s, v, lw=1.2)
        ax.set_title(k, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def scatter_2d(fake: Tensor, real: Tensor, out: Path, title: str = "", kde: bool = True) -> Path:
    """Real (grey) vs generated (red) points, with a KDE contour of the generated ones."""
    f = fake.detach().float().cpu().numpy()[:, :2]  # vectors with D > 2: their first two coordinates
    r = real.detach().float().cpu().numpy()[:, :2]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if r.shape[1] == 1:
        ax.hist(r[:, 0], bins=80, density=True, alpha=0.4, color="grey", label="real")
        ax.hist(f[:, 0], bins=80, density=True, alpha=0.4, color="tab:red", label="generated")
    else:
        ax.scatter(r[:, 0], r[:, 1], s=2, c="grey", alpha=0.3, label="real")
        ax.scatter(f[:, 0], f[:, 1], s=2, c="tab:red", alpha=0.5, label="generated")
        if kde and len(f) > 10 and np.isfinite(f).all() and f.std(0).min() > 1e-6:
            from scipy.stats import gaussian_kde

            ref = r if len(r) else f  # no real points given: frame the samples themselves
            lo, hi = ref.min(0) - 0.5, ref.max(0) + 0.5
            gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120))
            try:
                z = gaussian_kde(f[:2000].T)(np.stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
            except np.linalg.LinAlgError:
                z = None  # degenerate (collapsed) samples: the scatter already shows it
            if z is not None:
                ax.contour(gx, gy, z, levels=6, colors="tab:red", linewidths=0.6, alpha=0.7)
        ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def save_samples(samples: Tensor, out: Path, real: Tensor | None = None, title: str = "") -> Path:
    """Images -> grid PNG; 1-D/2-D vectors -> scatter against real points."""
    from .grid import save_grid

    if samples.dim() == 4:
        return save_grid(samples, out)
    if real is None:
        real = samples[:0]
    return scatter_2d(samples, real, out, title)
