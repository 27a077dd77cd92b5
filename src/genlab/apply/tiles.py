"""Fully convolutional application at any size: pad to the network's multiple, or cut into blended tiles.

`apply(fn, x, multiple, tile=0, overlap=32, scale=1)`: x (B, C, H, W) -> fn's output (B, C', H·s, W·s).
- Padding: H and W are padded up to multiples of `multiple` (reflection, or replication where the image is
  too small to reflect), fn runs once, and the output is cropped back to H·s × W·s.
- Tiling (tile > 0 and the image larger than a tile): windows of tile × tile (rounded up to the multiple)
  with `overlap` pixels shared by neighbours; each output tile is weighted by a separable ramp that rises
  linearly over the overlap, w(i) = min(1, (i + ½)/o, (T − i − ½)/o), and the weighted sum is divided by
  the summed weights, so seams blend and every output pixel is a convex combination of tile outputs. Tiles
  bound memory; networks with instance norm see per-tile statistics (the blend hides most of the seam).

`stitched(fn, x, multiple, tile=T, context=M, scale=s)`: non-overlapping T × T tiles, each computed on its
window widened by M input pixels of context on every side (clipped at the image), of which only the tile's
own output is kept. When M covers the network's receptive radius (and the network has no per-image
statistics) the result equals the whole-image pass up to float rounding: the super-resolution default.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def round_up(n: int, multiple: int) -> int:
    return int(math.ceil(n / multiple) * multiple)


def padded(fn: Callable[[Tensor], Tensor], x: Tensor, multiple: int, scale: int = 1) -> Tensor:
    """fn on x padded to multiples of `multiple`, cropped back to (H·scale, W·scale)."""
    h, w = x.shape[-2:]
    ph, pw = round_up(h, multiple) - h, round_up(w, multiple) - w
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    y = fn(x)
    return y[..., : h * scale, : w * scale]


def _starts(n: int, tile: int, step: int) -> list[int]:
    if n <= tile:
        return [0]
    out = list(range(0, n - tile, step))
    return out + [n - tile]


def _ramp(t: int, o: int, device) -> Tensor:
    i = torch.arange(t, device=device, dtype=torch.float32) + 0.5
    return torch.minimum(torch.ones_like(i), torch.minimum(i / max(o, 1), (t - i) / max(o, 1)))


def apply(fn: Callable[[Tensor], Tensor], x: Tensor, multiple: int = 1, *, tile: int = 0, overlap: int = 32,
          scale: int = 1) -> Tensor:
    """See the module docstring. tile = 0: one padded pass."""
    h, w = x.shape[-2:]
    if tile <= 0 or (h <= tile and w <= tile):
        return padded(fn, x, multiple, scale)
    t = round_up(tile, multiple)
    o = min(overlap, t // 2)
    step = max(1, t - o)
    out = weight = None
    for top in _starts(h, t, step):
        for left in _starts(w, t, step):
            patch = x[..., top:top + t, left:left + t]
            y = padded(fn, patch, multiple, scale)  # (B, C', th·s, tw·s)
            th, tw = y.shape[-2:]
            wy = _ramp(th, o * scale, y.device) if h > t else torch.ones(th, device=y.device)
            wx = _ramp(tw, o * scale, y.device) if w > t else torch.ones(tw, device=y.device)
            wt = wy[:, None] * wx[None, :]
            if out is None:
                out = torch.zeros(*y.shape[:-2], h * scale, w * scale, device=y.device, dtype=torch.float32)
                weight = torch.zeros(h * scale, w * scale, device=y.device)
            r, c = top * scale, left * scale
            out[..., r:r + th, c:c + tw] += y.float() * wt
            weight[r:r + th, c:c + tw] += wt
    return out / weight


def stitched(fn: Callable[[Tensor], Tensor], x: Tensor, multiple: int = 1, *, tile: int, context: int,
             scale: int = 1) -> Tensor:
    """See the module docstring. tile <= 0 or an image within one tile: one padded pass."""
    h, w = x.shape[-2:]
    if tile <= 0 or (h <= tile and w <= tile):
        return padded(fn, x, multiple, scale)
    s, out = scale, None
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            bottom, right = min(h, top + tile), min(w, left + tile)
            t0, l0 = max(0, top - context), max(0, left - context)
            y = padded(fn, x[..., t0:min(h, bottom + context), l0:min(w, right + context)], multiple, s)
            if out is None:
                out = torch.zeros(*y.shape[:-2], h * s, w * s, device=y.device, dtype=torch.float32)
            core = y[..., (top - t0) * s:(bottom - t0) * s, (left - l0) * s:(right - l0) * s]
            out[..., top * s:bottom * s, left * s:right * s] = core.float()
    return out
