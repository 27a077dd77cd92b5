"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 17 gray levels 0..16).

Fixed split: a seeded permutation puts 1,497 images in train and 300 in test (the same on every
machine, since the data and NumPy's legacy RandomState stream are fixed).
"""
from __future__ import annotations

import numpy as np
import torch

from ..registry import DATASETS
from .base import ArrayDataset

N_TEST = 300


@DATASETS.register("digits", splits=("train", "test"), options=(),
                   help="scikit-learn digits 8x8, 17 gray levels, 1497 train / 300 test, 10 labels")
def load(split: str) -> ArrayDataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    perm = np.random.RandomState(0).permutation(len(d.target))
    idx = perm[N_TEST:] if split == "train" else perm[:N_TEST]
    x = torch.from_numpy(d.images[idx].astype(np.uint8)).unsqueeze(1)  # (N, 1, 8, 8), values 0..16
    y = torch.from_numpy(d.target[idx].astype(np.int64))
    return ArrayDataset("digits", split, x, y, scale=1 / 16, levels=17, n_classes=10,
                        meta={"classes": [str(i) for i in range(10)]})
