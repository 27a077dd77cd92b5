"""Animated GIFs with Pillow: each frame is an image grid."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from torch import Tensor

from .grid import image_grid


def save_gif(frames: Tensor, path: str | Path, *, nrow: Optional[int] = None, duration_ms: int = 90,
             boomerang: bool = True, upscale: Optional[int] = None, hold: int = 4, levels: int = 64) -> Path:
    """frames: (T, N, C, H, W) in [0, 1] -> a looping GIF whose frame t shows the N images of step t.

    boomerang: play forward then backward, so the loop has no jump. hold: repeat the end frames this
    many times so the eye can rest on the endpoints. levels: values per channel kept (64 gray levels look
    the same as 256 on these images and make the file about half as big).
    """
    from PIL import Image

    t, n, c, h, w = frames.shape
    up = upscale or (2 if h <= 32 else 1)
    imgs = []
    for i in range(t):
        a = image_grid(frames[i], nrow=nrow or n, upscale=up)  # (H', W', C) uint8
        step = 256 // max(2, min(256, levels))
        a = (a // step) * step + step // 2 if step > 1 else a
        imgs.append(Image.fromarray(a[..., 0] if c == 1 else a))
    seq = [imgs[0]] * hold + imgs + [imgs[-1]] * hold
    if boomerang:
        seq += imgs[-2:0:-1]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seq[0].save(path, save_all=True, append_images=seq[1:], duration=duration_ms, loop=0, optimize=True)
    return path
