"""Preview pictures of named fields: what a model produced (panels) or what it will see (a batch).

Bounded images are drawn as plain image grids (clamped to [0, 1] here, at the picture edge, and nowhere
earlier). Physical fields are drawn in data space with a colour map, one colour bar per column labelled
with the variable and its units; gaps (the field's validity mask) are shaded grey. Vectors are drawn as
scatters of their first two coordinates against real points.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from ..fields import DataInfo, FieldSpec


def _columns(panels) -> list[tuple[str, Tensor, str]]:
    return [(p.title, p.tensor, p.field) for p in panels]


def save_preview(panels: Sequence, info: DataInfo, out: Path, *, real: Optional[Tensor] = None,
                 masks: Optional[dict[str, Tensor]] = None, title: str = "", rows: int = 8) -> Path:
    """Draw `panels` (objects with .title, .tensor in model space, .field) into one PNG.

    One panel of bounded images: the usual sample grid. Several image panels: one column each (input |
    output | target). Any physical field: a matplotlib figure with colour bars in physical units.
    masks: field name -> (n, 1|C, H, W) validity masks (1 = observed) shading the gaps of that field's
    column.
    """
    from .plots import save_samples

    cols = _columns(panels)
    specs = [info.fields.get(f) or info.spec for _, _, f in cols]
    if any(s.kind in ("sequence", "tokens") for s in specs):  # piano rolls, tokens, audio, series
        from .sequences import sequence_figure
        return sequence_figure(panels, specs, out, title=title, rows=min(rows, 4))
    if all(s.bounded and t.dim() == 4 for s, (_, t, _) in zip(specs, cols)) and not masks:
        if len(cols) == 1:
            return save_samples(cols[0][1].float().cpu(), out)
        from .grid import save_grid

        n = min(rows, *(len(t) for _, t, _ in cols))
        same = len({tuple(t.shape[1:]) for _, t, _ in cols}) == 1
        if same:
            stack = torch.stack([t[:n].float().cpu() for _, t, _ in cols], 1)  # (n, panels, C, H, W)
            c = max(t.shape[1] for _, t, _ in cols)
            stack = stack.expand(-1, -1, c, -1, -1) if stack.shape[2] == 1 else stack
            return save_grid(stack.reshape(-1, *stack.shape[2:]), out, nrow=len(cols))
    if all(t.dim() == 2 for _, t, _ in cols):
        return save_samples(cols[0][1].float().cpu(), out, real=real, title=title)
    return field_figure(cols, specs, out, masks=masks or {}, title=title, rows=rows)


def _to_picture(t: Tensor, spec: FieldSpec, channel: int = 0) -> np.ndarray:
    """(n, C, H, W) model space -> (n, H, W[, 3]) data-space array for imshow (one channel of fields)."""
    t = t.detach().float().cpu()
    if spec.kind == "mask":
        return t[:, min(channel, t.shape[1] - 1)].numpy()
    if spec.bounded:
        a = t.clamp(0, 1)
        return a[:, 0].numpy() if a.shape[1] == 1 else a[:, :3].permute(0, 2, 3, 1).numpy()
    return spec.normalizer.to_data(t)[:, channel].numpy()


MAX_CHANNELS = 4  # channels of a physical field drawn side by side (each with its own colour bar)


def _field_columns(cols, specs):
    """One column per (panel, channel) for physical fields (up to MAX_CHANNELS channels each), else per panel:
    [(title, tensor, field, spec, channel)]."""
    out = []
    for (name, t, field), spec in zip(cols, specs):
        chans = range(min(t.shape[1], MAX_CHANNELS)) if spec.kind == "field" and t.dim() == 4 else range(1)
        for c in chans:
            label = spec.channels[c] if spec.kind == "field" and len(spec.channels) > c else ""
            title = f"{name}: {label}" if label and len(chans) > 1 else name
            out.append((title, t, field, spec, c))
    return out


def field_figure(cols, specs, out: Path, *, masks: dict, title: str = "", rows: int = 8) -> Path:
    """Physical fields (and images/masks beside them) with colour bars in physical units: one column per
    panel and channel, `rows` examples; a single one-channel panel wraps its examples over up to 4
    columns (a grid) instead."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = _field_columns(cols, specs)
    n = min(rows, *(len(t) for _, t, _ in cols))
    wrap = 4 if len(columns) == 1 and n > 4 else 1  # one column of examples -> a grid of `wrap` columns
    pics = [_to_picture(t[:n], s, c) for _, t, _, s, c in columns]
    h, w = pics[0].shape[1:3]
    cell = 2.2 * min(2.0, max(0.6, w / max(h, 1)))
    n_rows, n_cols = -(-n // wrap), len(columns) * wrap
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell * n_cols + 0.8 * len(columns), 2.0 * n_rows),
                             squeeze=False)
    for j, ((name, _, field, spec, channel), pic) in enumerate(zip(columns, pics)):
        finite = pic[np.isfinite(pic)]
        lo, hi = (np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0))
        lo, hi = (0.0, 1.0) if spec.bounded else (float(lo), float(hi) if hi > lo else float(lo) + 1e-6)
        cmap = "gray" if spec.kind in ("image", "mask") else "RdYlBu_r"
        gaps = masks.get(field)
        im = None
        mine = []
        for i in range(n):
            ax = axes[i // wrap, j * wrap + i % wrap]
            mine.append(ax)
            im = ax.imshow(pic[i], cmap=cmap, vmin=lo, vmax=hi, origin="lower" if spec.kind == "field" else "upper",
                           interpolation="nearest")
            if gaps is not None:
                g = gaps[i, min(channel, gaps.shape[1] - 1)].detach().cpu().numpy() < 0.5
                shade = np.zeros((*g.shape, 4))
                shade[g] = (0.55, 0.55, 0.55, 1.0)
                ax.imshow(shade, origin="lower" if spec.kind == "field" else "upper", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i < wrap:
                ax.set_title(name, fontsize=8)
        for i in range(n, n_rows * wrap):  # empty cells of the last grid row
            axes[i // wrap, j * wrap + i % wrap].axis("off")
        if im is not None and spec.kind not in ("image", "mask"):
            chan = spec.channels[channel] if len(spec.channels) > channel else field
            label = chan + (f" [{spec.units}]" if spec.units else "")
            cb = fig.colorbar(im, ax=mine, shrink=0.8, pad=0.02)
            cb.set_label(label, fontsize=8)
            cb.ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
