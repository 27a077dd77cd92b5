"""2-D toy distributions for GAN mode-collapse and density pictures.

ring8 and grid25 follow the PacGAN/VEEGAN convention: 8 Gaussians with means on the unit circle and
std 0.01; 25 Gaussians with means on {-4,-2,0,2,4}^2 and std 0.05. Mode centres and std are kept in
`meta` for the mode-coverage metrics. two-gaussians is the lectures' KDE example: the mixture
0.3 N(0, 1) + 0.7 N(5, 1) along the first axis (dim=1 gives the 1-D version of the figure).
Each split is drawn from its own fixed seed, so train and test are independent and reproducible.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from ..registry import DATASETS
from .base import ArrayDataset

SPLIT_SEED = {"train": 0, "test": 1}
DEFAULT_N = {"train": 50_000, "test": 10_000}


def _mixture(rng: np.random.RandomState, n: int, centres: np.ndarray, std: float,
             weights: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    k = rng.choice(len(centres), size=n, p=weights)
    return centres[k] + std * rng.randn(n, centres.shape[1]), k


def ring_centres(modes: int = 8, radius: float = 1.0) -> np.ndarray:
    t = 2 * math.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(t), np.sin(t)], 1)


def grid_centres() -> np.ndarray:
    g = np.arange(-4, 5, 2, dtype=np.float64)
    return np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)


def _dataset(name, split, x, y=None, n_classes=0, **meta) -> ArrayDataset:
    return ArrayDataset(name, split, torch.from_numpy(x.astype(np.float32)),
                        None if y is None else torch.from_numpy(y.astype(np.int64)),
                        n_classes=n_classes, meta=meta)


def _n(split: str, n: Optional[int]) -> int:
    return int(n) if n else DEFAULT_N[split]


@DATASETS.register("ring8", splits=("train", "test"), options=("n",),
                   help="8 Gaussians on the unit circle, std 0.01 (mode-collapse toy)")
def ring8(split: str, n: Optional[int] = None) -> ArrayDataset:
    c = ring_centres()
    x, k = _mixture(np.random.RandomState(SPLIT_SEED[split]), _n(split, n), c, 0.01)
    return _dataset("ring8", split, x, k, 8, centres=c.tolist(), std=0.01)


@DATASETS.register("grid25", splits=("train", "test"), options=("n",),
                   help="25 Gaussians on a 5x5 grid with spacing 2, std 0.05 (mode-collapse toy)")
def grid25(split: str, n: Optional[int] = None) -> ArrayDataset:
    c = grid_centres()
    x, k = _mixture(np.random.RandomState(SPLIT_SEED[split]), _n(split, n), c, 0.05)
    return _dataset("grid25", split, x, k, 25, centres=c.tolist(), std=0.05)


@DATASETS.register("two-moons", splits=("train", "test"), options=("n",),
                   help="scikit-learn two moons with noise 0.05, two labels")
def two_moons(split: str, n: Optional[int] = None) -> ArrayDataset:
    from sklearn.datasets import make_moons

    x, y = make_moons(_n(split, n), noise=0.05, random_state=SPLIT_SEED[split])
    return _dataset("two-moons", split, x, y, 2)


@DATASETS.register("swiss-roll", splits=("train", "test"), options=("n",),
                   help="2-D swiss roll (scikit-learn's, x-z plane, scaled by 1/5), noise 0.25")
def swiss_roll(split: str, n: Optional[int] = None) -> ArrayDataset:
    from sklearn.datasets import make_swiss_roll

    x, _ = make_swiss_roll(_n(split, n), noise=0.25, random_state=SPLIT_SEED[split])
    return _dataset("swiss-roll", split, x[:, [0, 2]] / 5.0)


@DATASETS.register("two-gaussians", splits=("train", "test"), options=("n", "dim"),
                   help="0.3 N(0,1) + 0.7 N(5,1) along axis 0 (the lectures' KDE example); data.dim=1 or 2")
def two_gaussians(split: str, n: Optional[int] = None, dim: Optional[int] = None) -> ArrayDataset:
    dim = int(dim or 2)
    if dim not in (1, 2):
        from ..errors import GenlabError
        raise GenlabError(f"data.dim={dim} is not supported for two-gaussians; use 1 or 2")
    c = np.zeros((2, dim))
    c[1, 0] = 5.0
    x, k = _mixture(np.random.RandomState(SPLIT_SEED[split]), _n(split, n), c, 1.0, np.array([0.3, 0.7]))
    return _dataset("two-gaussians", split, x, k, 2, centres=c.tolist(), std=1.0, weights=[0.3, 0.7])
