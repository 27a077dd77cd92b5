"""Training curves as PNG bytes (for embedding in HTML reports): throughput, and losses of several runs
overlaid."""
from __future__ import annotations

import io
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NOT_LOSSES = ("step", "samples_per_s", "time_s", "lr")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def series(rows: Sequence[dict], key: str) -> tuple[list, list]:
    pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float)) and "step" in r]
    return ([p[0] for p in pts], [p[1] for p in pts]) if pts else ([], [])


def loss_keys(rows: Sequence[dict]) -> list[str]:
    return sorted({k for r in rows for k, v in r.items() if k not in NOT_LOSSES and isinstance(v, (int, float))})


def throughput_png(rows: Sequence[dict], title: str = "training throughput") -> bytes:
    fig, ax = plt.subplots(figsize=(5, 2.6))
    s, v = series(rows, "samples_per_s")
    ax.plot(s, v, lw=1.2, color="tab:green")
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("samples/s", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)


def overlaid_png(runs: dict[str, Sequence[dict]], keys: Sequence[str], max_panels: int = 9) -> bytes:
    """One panel per key, one line per run (runs without the key are left out of that panel)."""
    keys = list(keys)[:max_panels]
    cols = min(3, max(1, len(keys)))
    nrows = (len(keys) + cols - 1) // cols if keys else 1
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 2.9 * nrows), squeeze=False)
    for ax, k in zip(axes.flat, keys):
        for name, rows in runs.items():
            s, v = series(rows, k)
            if s:
                ax.plot(s, v, lw=1.1, label=name)
        ax.set_title(k, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if keys:
        axes.flat[0].legend(fontsize=7)
    return _png(fig)
