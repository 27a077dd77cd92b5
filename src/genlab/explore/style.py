"""Style-space pictures of models with per-layer styles (StyleGAN; capabilities to_w / decode_w).

Style mixing (Karras et al. 2019, Fig. 3): for row latent w_r and column latent w_c, the cell shows
decode_w(ws) with ws_i = w_r for the style indices i in a layer range and w_c elsewhere — the rows' coarse
styles (pose, shape) with the columns' fine ones (texture, intensity), or any other range.

Layer ranges by the resolution res_i each style acts at (the paper's split, for 1024 px: coarse 4²–8²,
middle 16²–32², fine 64²–1024²), adapted to small images so that every name is non-empty from 32 px on:
    coarse: res ≤ 8;   fine: res ≥ min(64, R), R the output side;   middle: the rest
(32 px: coarse 4–8, middle 16, fine 32; 64 px: fine 64; 128 px: fine 64–128, as in the paper).

Truncation sweep (Karras et al. 2019, Fig. 8): w' = w̄ + ψ (w − w̄) for several ψ; ψ = 0 gives G(w̄), the
"mean" image, for every seed.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from ..errors import GenlabError
from .recipes import Panel

RANGES = ("coarse", "middle", "fine")


def layer_indices(resolutions: Sequence[int], spec: str) -> list[int]:
    """Style indices of a range: coarse | middle | fine | A-B (indices, inclusive) | A (one index)."""
    res = list(resolutions)
    if not res:
        raise GenlabError("this model has no per-layer styles to mix; style-mix needs a stylegan run")
    top = max(res)
    groups = {"coarse": [i for i, r in enumerate(res) if r <= 8]}
    groups["fine"] = [i for i, r in enumerate(res) if r >= min(64, top) and i not in groups["coarse"]]
    groups["middle"] = [i for i in range(len(res)) if i not in groups["coarse"] + groups["fine"]]
    if spec in groups:
        if not groups[spec]:
            raise GenlabError(f"--layers {spec} is empty for {top} px images (styles act at {sorted(set(res))}); "
                              f"use coarse or an index range such as 0-{len(res) // 2}")
        return groups[spec]
    try:
        lo, _, hi = spec.partition("-")
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise GenlabError(f"--layers {spec!r} is invalid; give coarse, middle, fine or style indices A-B "
                          f"(0..{len(res) - 1})") from None
    if not 0 <= a <= b < len(res):
        raise GenlabError(f"--layers {spec} is out of range; this model has styles 0..{len(res) - 1}")
    return list(range(a, b + 1))


def mixed_styles(w_rows: Tensor, w_cols: Tensor, layers: Sequence[int], n_ws: int) -> Tensor:
    """ws[r, c, i] = w_rows[r] for i in layers, else w_cols[c]: (R, D), (C, D) -> (R, C, L, D)."""
    r, c, d = len(w_rows), len(w_cols), w_cols.shape[1]
    ws = w_cols[None, :, None, :].expand(r, c, n_ws, d).clone()  # (R, C, L, D)
    ws[:, :, list(layers)] = w_rows[:, None, None, :]
    return ws


def style_mix(decode_w: Callable[[Tensor], Tensor], w_rows: Tensor, w_cols: Tensor, layers: Sequence[int],
              n_ws: int) -> Tensor:
    """The figure as (R + 1, C + 1) cells (N, C, H, W) in [0, 1], row-major: a blank corner, the columns'
    images on top, the rows' images on the left, mixed images inside."""
    top = decode_w(w_cols)  # (C, ch, H, W)
    left = decode_w(w_rows)  # (R, ch, H, W)
    ws = mixed_styles(w_rows, w_cols, layers, n_ws)
    cells = decode_w(ws.flatten(0, 1)).reshape(len(w_rows), len(w_cols), *top.shape[1:])  # (R, C, ch, H, W)
    grid = torch.ones(len(w_rows) + 1, len(w_cols) + 1, *top.shape[1:])
    grid[0, 1:], grid[1:, 0], grid[1:, 1:] = top, left, cells
    return grid.flatten(0, 1)  # (R + 1, C + 1, ...) -> ((R + 1)(C + 1), ...)


def truncation_sweep(to_w: Callable[..., Tensor], decode_w: Callable[[Tensor], Tensor], z: Tensor,
                     psis: Sequence[float], names: Sequence[str]) -> Panel:
    """Row s: seed s decoded at w' = w̄ + ψ (w − w̄) for each ψ (columns)."""
    x = torch.stack([decode_w(to_w(z, psi=float(p))) for p in psis], 1)  # (S, P, C, H, W)
    return Panel(list(x), list(names), [f"ψ={p:g}" for p in psis], "truncation: w' = w̄ + ψ (w − w̄)")
