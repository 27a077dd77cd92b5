"""Image grids written with Pillow (no torchvision)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor


def image_grid(images: Tensor, nrow: int | None = None, pad: int = 2, pad_value: float = 1.0,
               upscale: int = 1) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] -> (H', W', C) uint8 grid with `nrow` images per row."""
    x = images.detach().float().clamp(0, 1).cpu()
    n, c, h, w = x.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    grid = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), pad_value)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top:top + h, left:left + w] = x[i]
    a = (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)  # (H', W', C)
    if upscale > 1:
        a = a.repeat(upscale, 0).repeat(upscale, 1)
    return a


def save_grid(images: Tensor, path: str | Path, nrow: int | None = None, upscale: int | None = None) -> Path:
    """Save a PNG grid; small images (≤ 32 px) are upscaled so a person can see them."""
    from PIL import Image

    h = images.shape[-1]
    if upscale is None:
        upscale = 4 if h <= 16 else (2 if h <= 32 else 1)
    a = image_grid(images, nrow, upscale=upscale)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).save(path)
    return path
