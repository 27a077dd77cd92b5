"""Image grids with row (and column) captions, drawn with matplotlib (Agg) around a Pillow-style grid."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from .grid import image_grid  # noqa: E402


def _rows_tensor(rows: Sequence[Tensor]) -> Tensor:
    """Rows of possibly different lengths -> (R, K, C, H, W), short rows padded with blank (white) cells."""
    k = max(len(r) for r in rows)
    c, h, w = rows[0].shape[1:]
    out = torch.ones(len(rows), k, c, h, w)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r.detach().float().cpu()
    return out


def labelled_grid(rows: Sequence[Tensor], out: str | Path, *, row_labels: Sequence[str] = (),
                  col_labels: Sequence[str] = (), title: str = "", upscale: Optional[int] = None) -> Path:
    """Save a grid whose row r holds the images rows[r] ((K_r, C, H, W) in [0, 1]) as a PNG.

    Row labels go on the left, column labels on top, the title above everything.
    """
    x = _rows_tensor(rows)
    r, k, c, h, w = x.shape
    up = upscale or max(1, min(3, 1000 // (k * (w + 2))))  # keep pictures about 1000 px wide at most
    pad = 2
    grid = image_grid(x.reshape(r * k, c, h, w), nrow=k, pad=pad, upscale=up)  # (H', W', C)
    gh, gw = grid.shape[:2]
    dpi = 100
    left = 0.15 + 0.07 * max((len(t) for t in row_labels), default=0)  # inches for 8-pt row labels
    top = (0.35 if title else 0.05) + (0.3 if col_labels else 0.0)
    fig = plt.figure(figsize=(gw / dpi + left + 0.1, gh / dpi + top + 0.1), dpi=dpi)
    ax = fig.add_axes([left / (gw / dpi + left + 0.1), 0.1 / (gh / dpi + top + 0.1),
                       (gw / dpi) / (gw / dpi + left + 0.1), (gh / dpi) / (gh / dpi + top + 0.1)])
    ax.imshow(grid[..., 0] if c == 1 else grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    cell_h, cell_w = (h + pad) * up, (w + pad) * up
    ax.set_yticks([pad * up + i * cell_h + h * up / 2 for i in range(len(row_labels))])
    ax.set_yticklabels(list(row_labels), fontsize=8)
    ax.set_xticks([pad * up + j * cell_w + w * up / 2 for j in range(len(col_labels))])
    ax.set_xticklabels(list(col_labels), fontsize=7)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=9, y=1 - 0.05 / (gh / dpi + top + 0.1), va="top")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    from PIL import Image

    img = Image.open(buf)
    # grayscale data and black text: an 8-bit gray PNG is ~4x smaller than matplotlib's RGBA
    img.convert("L" if c == 1 else "RGB").save(out, optimize=True)
    return out
