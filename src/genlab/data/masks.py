"""Inpainting masks for evaluation: the hole-ratio bins of the partial-convolution paper, a fixed seeded mask
set rejection-sampled into them, and user masks read from files.

Convention everywhere: a mask is float, 1 = known, 0 = hole; the hole ratio is the fraction of hole elements.

- `BINS`: (0.01, 0.1], (0.1, 0.2], …, (0.5, 0.6] (Liu et al. 2018, Table 1: six categories of hole-to-image
  area ratio; each interval is open on the left, closed on the right).
- `evaluation_masks(h, w, n_per_bin, seed=0)`: candidates are unions of k masks of data/derive.py's generators
  (`make_masks(kind)`: one box or three free-form strokes each), k uniform in 1 … MAX_UNION (narrowed to the
  k that reach the bins still open), drawn in batches from one `torch.Generator` seeded with `seed`; each
  candidate goes to the bin of its hole ratio until that bin holds n_per_bin masks (rejection sampling). The
  result depends only on (h, w, n_per_bin, seed, kind): every evaluation of every run at that size sees the same masks.
- `read_mask(path)`: a PNG/JPEG/… image (converted to grey; white = known: value >= 128 of 255) or a .npy
  array ((H, W), (1, H, W) or (C, H, W); bool or 0/1 numbers, 1 = known), read without pickle.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..errors import GenlabError
from .derive import make_masks

BINS: tuple[tuple[float, float], ...] = ((0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6))
MAX_UNION = 6  # candidates unite 1 … 6 generated masks (one mask rarely has more than 40 % holes)
BATCH = 128  # candidates drawn per round
MAX_ROUNDS = 400


def bin_label(b: tuple[float, float]) -> str:
    return f"({b[0]:g}, {b[1]:g}]"


def hole_ratio(mask: Tensor) -> Tensor:
    """(N,) fraction of hole elements of masks (N, 1|C, H, W) (1 = known)."""
    return 1.0 - mask.float().flatten(1).mean(1)


def bin_index(ratio: float) -> int:
    """Index into BINS of a hole ratio (lo < r <= hi), or −1 outside every bin."""
    return next((i for i, (lo, hi) in enumerate(BINS) if lo < ratio <= hi), -1)


def _union_range(open_bins: list[bool]) -> tuple[int, int]:
    """(lo, hi) of the number of masks a candidate unites, from the bins still open: one or two masks reach
    the low bins, three to six the high ones (this only saves draws; the rule is part of the seeded recipe)."""
    low, mid, high = any(open_bins[:2]), any(open_bins[2:4]), any(open_bins[4:])
    return (1 if low else 2 if mid else 3), (MAX_UNION if high else 4 if mid else 2)


def evaluation_masks(h: int, w: int, n_per_bin: int, *, seed: int = 0, kind: str = "mixed") -> list[Tensor]:
    """One (n_per_bin, 1, h, w) float tensor of masks per bin of BINS (module docstring)."""
    if n_per_bin < 1 or min(h, w) < 8:
        raise GenlabError(f"evaluation masks need n >= 1 per bin and images of at least 8 x 8, got n={n_per_bin}, "
                          f"{h}x{w}")
    g = torch.Generator().manual_seed(seed)
    found: list[list[Tensor]] = [[] for _ in BINS]
    for _ in range(MAX_ROUNDS):
        lo, hi = _union_range([len(f) < n_per_bin for f in found])
        k = torch.randint(lo, hi + 1, (BATCH,), generator=g)  # masks united per candidate
        parts = make_masks(kind, int(k.sum()), h, w, g, "cpu")[:, 0]  # (Σk, h, w)
        owner = torch.repeat_interleave(torch.arange(BATCH), k)  # (Σk,) candidate of each part
        holes = torch.zeros(BATCH, h, w).index_add_(0, owner, 1.0 - parts)  # (BATCH, h, w): parts with a hole
        union = (holes == 0).float().unsqueeze(1)  # (BATCH, 1, h, w): known only where no part has a hole
        for m, r in zip(union, hole_ratio(union).tolist()):
            i = bin_index(r)
            if i >= 0 and len(found[i]) < n_per_bin:
                found[i].append(m)
        if all(len(f) == n_per_bin for f in found):
            return [torch.stack(f) for f in found]
    short = [bin_label(b) for b, f in zip(BINS, found) if len(f) < n_per_bin]
    raise GenlabError(f"could not draw {n_per_bin} masks for the bins {', '.join(short)} at {h}x{w}; "
                      "use fewer masks per bin or larger images")


def _image_mask(p: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            a = np.asarray(im.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise GenlabError(f"cannot read mask {p}: {e}; give a PNG (white = known) or a .npy 0/1 array") from None
    return (a >= 128).astype(np.float32)[None]  # (1, H, W)


def _array_mask(p: Path) -> np.ndarray:
    try:
        a = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise GenlabError(f"cannot read mask {p}: {e}; give a .npy array of 0/1 (1 = known) without pickle") from None
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "biuf" or a.ndim not in (2, 3):
        raise GenlabError(f"mask {p} must be an (H, W) or (C, H, W) array of 0/1, got "
                          f"{getattr(a, 'shape', '?')} {getattr(a, 'dtype', type(a).__name__)}")
    a = a.astype(np.float32)
    if not np.isin(a, (0.0, 1.0)).all():
        raise GenlabError(f"mask {p} holds values other than 0 and 1 (1 = known, 0 = hole); binarise it first")
    return a[None] if a.ndim == 2 else a


def read_mask(path: str | Path, shape: Optional[tuple[int, int]] = None) -> Tensor:
    """A user mask (1|C, H, W) float, 1 = known (module docstring). `shape` = (H, W) it must have."""
    p = Path(path)
    if not p.is_file():
        raise GenlabError(f"mask {str(p)!r} does not exist; give a PNG (white = known) or a .npy 0/1 array")
    a = _array_mask(p) if p.suffix.lower() == ".npy" else _image_mask(p)
    if shape is not None and tuple(a.shape[-2:]) != tuple(shape):
        raise GenlabError(f"mask {p} is {a.shape[-2]}x{a.shape[-1]} but its image is {shape[0]}x{shape[1]}; give a "
                          "mask of the image's size")
    return torch.from_numpy(np.ascontiguousarray(a))
