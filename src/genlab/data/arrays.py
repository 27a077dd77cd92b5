"""Array datasets from `.npy`/`.npz` files: N x H x W or N x C x H x W float fields (or uint8 images).

`.npz`: the images are key `x` (else the first array), optional labels `y`; keys `train`/`test`
(and `y_train`/`y_test`) give explicit splits. Otherwise a fixed seeded 90/10 split (`all` = every row).
Float fields already inside [0, 1] (e.g. images saved by `genlab sample --out x.npy`) are used as they
are; other float fields are min-max scaled to [0, 1] with the *whole file's* min and max (kept in `meta`
as `offset`/`range` so outputs can be mapped back to physical units); uint8 arrays are 8-bit images.
Files are read with `allow_pickle=False`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from ..registry import DATASETS
from .base import ArrayDataset


def _read(path: Path, split: str) -> tuple[np.ndarray, Optional[np.ndarray], bool]:
    """Returns (x, y, already_split)."""
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False), None, False
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            if not keys:
                raise GenlabError(f"{path} holds no arrays")
            if split in ("train", "test") and split in keys:
                y = z[f"y_{split}"] if f"y_{split}" in keys else None
                return z[split], y, True
            x = z["x"] if "x" in keys else z[keys[0]]
            return x, (z["y"] if "y" in keys else None), False
    except ValueError as e:
        raise GenlabError(f"cannot read {path} without pickle ({e}); save plain numeric arrays") from None
    except OSError as e:
        raise GenlabError(f"cannot read {path} ({e}); give a valid .npy/.npz file") from None


def load_array(path: str, split: str = "all") -> ArrayDataset:
    p = Path(path)
    if not p.is_file() or p.suffix not in (".npy", ".npz"):
        raise GenlabError(f"array file {path!r} not found or not .npy/.npz; give an existing .npy/.npz file")
    x, y, already = _read(p, split)
    if x.ndim == 3:
        x = x[:, None]  # (N, 1, H, W)
    if x.ndim not in (2, 4):
        raise GenlabError(f"{path} has shape {x.shape}; expected N x H x W, N x C x H x W or N x D")
    if len(x) == 0:
        raise GenlabError(f"{path} holds no examples")
    if not np.issubdtype(x.dtype, np.number):
        raise GenlabError(f"{path} has non-numeric dtype {x.dtype}")
    if y is not None and len(y) != len(x):
        raise GenlabError(f"{path}: {len(x)} examples but {len(y)} labels")
    meta = {"path": str(path)}
    if x.dtype == np.uint8:
        t, scale, levels = torch.from_numpy(np.ascontiguousarray(x)), 1 / 255, 256
    else:
        x = x.astype(np.float32)
        if not np.isfinite(x).all():
            raise GenlabError(f"{path} contains NaN or inf values; fill or mask them first")
        lo, hi = float(x.min()), float(x.max())
        if lo >= 0.0 and hi <= 1.0:
            lo, hi = 0.0, 1.0  # already in model space: no stretching
        rng = hi - lo if hi > lo else 1.0
        meta.update(offset=lo, range=rng)
        t, scale, levels = torch.from_numpy((x - lo) / rng), 1.0, None
    yt = None if y is None else torch.from_numpy(np.asarray(y).astype(np.int64))
    if not already and split != "all":
        perm = torch.randperm(len(t), generator=torch.Generator().manual_seed(0))
        n_test = max(1, len(t) // 10) if len(t) > 1 else 0
        idx = perm[:n_test] if split == "test" else perm[n_test:]
        t, yt = t[idx], None if yt is None else yt[idx]
    n_classes = int(yt.max()) + 1 if yt is not None and len(yt) else 0
    return ArrayDataset("array", split, t, yt, scale=scale, levels=levels, n_classes=n_classes, meta=meta)


@DATASETS.register("array", splits=("train", "test", "all"), options=("path",),
                   help="a .npy/.npz array of fields or images (data.path=FILE)")
def load(split: str, path: Optional[str] = None) -> ArrayDataset:
    if not path:
        raise GenlabError("dataset 'array' needs data.path=FILE (.npy or .npz)")
    return load_array(path, split)
