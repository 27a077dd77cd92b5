"""Scatter plots of 2-D embeddings coloured by label."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def scatter_by_label(coords: np.ndarray, labels: Optional[np.ndarray], out: str | Path, *,
                     class_names: Sequence[str] = (), title: str = "", xlabel: str = "",
                     ylabel: str = "") -> Path:
    """coords: (N, 2); labels: (N,) ints or None (one colour). Legend lists the class names."""
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    if labels is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=3, alpha=0.6, c="tab:blue", linewidths=0)
    else:
        cmap = plt.get_cmap("tab10" if labels.max() < 10 else "tab20")
        for c in np.unique(labels):
            sel = labels == c
            name = class_names[c] if 0 <= c < len(class_names) else str(c)
            ax.scatter(coords[sel, 0], coords[sel, 1], s=3, alpha=0.7, color=cmap(int(c) % cmap.N),
                       label=name, linewidths=0)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, markerscale=4, frameon=False)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    from PIL import Image

    # a 64-colour palette is visually the same for ten flat colours and 2-3x smaller than RGBA
    Image.open(buf).convert("RGB").quantize(colors=64).save(out, optimize=True)
    return out
