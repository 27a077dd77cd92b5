"""Explore recipes: latents in, labelled rows of images out (what each `genlab explore` picture shows).

Each recipe returns a `Panel`: rows of decoded images (each (K, C, H, W) in [0, 1]) with row/column
labels, plus numbers worth reporting. Drawing and file writing stay in genlab.viz and the CLI.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
from torch import Tensor

from .arithmetic import apply_vector
from .latents import LatentSpace
from .paths import interpolation_path
from .traverse import manifold_grid, traversal


@dataclass
class Panel:
    rows: list[Tensor]
    row_labels: list[str]
    col_labels: list[str] = field(default_factory=list)
    title: str = ""
    stats: dict = field(default_factory=dict)
    frames: Optional[Tensor] = None  # (T, N, C, H, W) for an animation, if any


def interpolation(space: LatentSpace, z0: Tensor, z1: Tensor, *, steps: int, kinds: Sequence[str],
                  names: Sequence[str], ends: Optional[tuple[Tensor, Tensor]] = None) -> Panel:
    """Rows: for each pair p and path kind, decode(path(z0[p] → z1[p])) with the real endpoint images
    on both sides when `ends` (x0, x1) is given. z0, z1: (P, D). Frames: step t of every row."""
    rows, labels, paths = [], [], []
    for kind in kinds:
        paths.append(interpolation_path(z0, z1, steps, kind))  # (P, steps, D)
    decoded = [space.decode(p) for p in paths]  # each (P, steps, C, H, W)
    norms = {k: p.norm(dim=-1) / math.sqrt(space.dim) for k, p in zip(kinds, paths)}  # (P, steps)
    for i in range(len(z0)):
        for kind, x in zip(kinds, decoded):
            row = x[i]
            if ends is not None:
                row = torch.cat([ends[0][i:i + 1], row, ends[1][i:i + 1]])  # (steps + 2, C, H, W)
            rows.append(row)
            labels.append(f"{kind} {names[i]}")
    frames = torch.stack([x for x in decoded], 1)  # (P, kinds, steps, C, H, W)
    frames = frames.flatten(0, 1).transpose(0, 1)  # (P * kinds, steps, ...) -> (steps, P * kinds, ...)
    cols = (["start"] if ends else []) + [f"t={t:.2f}" if t in (0, 1) else "" for t in
                                          torch.linspace(0, 1, steps).tolist()] + (["end"] if ends else [])
    mid = steps // 2
    stats = {f"{k}_mid_norm_over_sqrt_d": float(n[:, mid].mean()) for k, n in norms.items()}
    stats.update({f"{k}_end_norm_over_sqrt_d": float(torch.cat([n[:, 0], n[:, -1]]).mean()) for k, n in norms.items()})
    return Panel(rows, labels, cols, "", stats, frames)


def arithmetic(space: LatentSpace, z_c: Tensor, x_c: Tensor, means: Tensor, *, scales: Sequence[float],
               names: tuple[str, str, str], show_input: bool = True) -> Panel:
    """z' = z_C + s (mean_A − mean_B) for each scale s. z_c: (N, D) latents of the images x_c of class
    C; means: (3, D) mean latents of A, B, C. Row 0: the decoded class means and mean_C + v."""
    a, b, c = names
    v = means[0] - means[1]
    head = space.decode(torch.stack([means[2], means[1], means[0], means[2] + v]))  # (4, C, H, W)
    rows, labels = [head], [f"means: {c}, −{b}, +{a}, ="]
    if show_input:
        rows.append(x_c)
        labels.append(f"input: {c}")
    moved = space.decode(apply_vector(z_c, v, scales))  # (S, N, C, H, W)
    for s, row in zip(scales, moved):
        rows.append(row)
        labels.append(f"{c} {s:+g}·({a} − {b})" if s else f"{c} (decoded)")
    return Panel(rows, labels, [], f"{c} − {b} + {a}", {"vector_norm": float(v.norm())})


def traverse(space: LatentSpace, base: Tensor, dims: Sequence[int], *, steps: int, span: float,
             mean: Tensor, std: Tensor) -> Panel:
    """Row r: dimension dims[r] swept over mean ± span·std, every other dimension held at `base`."""
    z = traversal(base, dims, mean, std, steps, span)  # (len(dims), steps, D)
    x = space.decode(z)
    u = torch.linspace(-span, span, steps).tolist()
    cols = [f"{v + 0.0:+.1f}σ".replace("-0.0", "0.0").replace("+0.0", "0.0") if i in (0, steps // 2, steps - 1)
            else "" for i, v in enumerate(u)]
    return Panel(list(x), [f"z{d}" for d in dims], cols, f"±{span:g}σ per latent dimension")


def manifold(space: LatentSpace, *, steps: int, span: float, mean: Tensor, std: Tensor) -> Panel:
    """The 2-D latent manifold: decode(z) on a steps × steps grid of prior quantiles."""
    z = manifold_grid(steps, mean, std, span)  # (steps, steps, 2)
    x = space.decode(z)
    rows = [f"z1={v:+.2f}" if i % max(1, steps // 5) == 0 else "" for i, v in enumerate(z[:, 0, 1].tolist())]
    cols = [f"{v:+.1f}" if j % max(1, steps // 5) == 0 else "" for j, v in enumerate(z[0, :, 0].tolist())]
    return Panel(list(x), rows, cols, f"learned 2-D manifold, z0 → (columns), z1 ↑ (rows), ±{span:g}σ quantiles")


def neighbours(samples: Tensor, train_x: Tensor, spaces: dict[str, tuple[Tensor, Tensor]], k: int) -> Panel:
    """Column j: sample j, then its k nearest training images in each space.

    spaces: name -> (query features (N, F), bank features (M, F)) for the samples and the training set.
    """
    from .neighbors import nearest

    rows, labels, stats = [samples], ["generated"], {}
    for name, (q, bank) in spaces.items():
        d, idx = nearest(q, bank, k)  # (N, k)
        for j in range(idx.shape[1]):
            rows.append(train_x[idx[:, j]])
            labels.append(f"{name} NN{j + 1}")
        stats[f"{name}_nn1_mean_distance"] = float(d[:, 0].mean())
    return Panel(rows, labels, [], "generated samples (top) and their nearest training images")
