"""Image folders: PNG/JPEG of any size, grayscale or RGB, resized and centre-cropped to `size`.

Class subfolders give labels (sorted names -> 0..K-1); loose files are unlabelled. If the folder has
`train/` and `test/` subfolders those are the splits; otherwise a fixed seeded 90/10 split is used
(`all` gives every image). Images are decoded once and kept in memory as uint8.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from ..registry import DATASETS
from .base import ArrayDataset

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


def _files(root: Path) -> tuple[list[Path], list[int], list[str]]:
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files, labels = [], []
    for p in sorted(root.iterdir()):
        if p.is_file() and p.suffix.lower() in EXTENSIONS:
            files.append(p)
            labels.append(-1)
    for k, c in enumerate(classes):
        for p in sorted((root / c).rglob("*")):
            if p.is_file() and p.suffix.lower() in EXTENSIONS:
                files.append(p)
                labels.append(k)
    return files, labels, classes


def _load_image(p: Path, size: int, channels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            w, h = im.size
            s = size / min(w, h)  # shorter side to `size`, then centre crop
            im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BICUBIC)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            im = im.crop((left, top, left + size, top + size))
            a = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise GenlabError(f"cannot read image {p} ({e}); remove it or convert it to PNG/JPEG") from None
    return a[None] if channels == 1 else a.transpose(2, 0, 1)  # (C, H, W)


def load_folder(path: str, split: str = "all", size: Optional[int] = None,
                channels: Optional[int] = None) -> ArrayDataset:
    root = Path(path)
    if not root.is_dir():
        raise GenlabError(f"image folder {path!r} does not exist; give an existing directory")
    if split in ("train", "test") and (root / "train").is_dir() and (root / "test").is_dir():
        root, split = root / split, "all"
    files, labels, classes = _files(root)
    if not files:
        raise GenlabError(f"image folder {path!r} holds no PNG/JPEG images (looked in it and its class "
                          "subfolders)")
    if channels is None:
        from PIL import Image
        with Image.open(files[0]) as im:
            channels = 1 if im.mode in ("L", "1", "I;16", "I") else 3
    if channels not in (1, 3):
        raise GenlabError(f"data.channels={channels} is not supported; use 1 (grayscale) or 3 (RGB)")
    if size is None:
        from PIL import Image
        with Image.open(files[0]) as im:
            size = min(im.size)
    x = torch.from_numpy(np.stack([_load_image(p, int(size), channels) for p in files]))
    y = torch.tensor(labels, dtype=torch.int64)
    if split != "all":
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        n_test = max(1, len(x) // 10) if len(x) > 1 else 0
        idx = perm[:n_test] if split == "test" else perm[n_test:]
        x, y = x[idx], y[idx]
    labelled = bool(classes) and bool((y >= 0).all())
    return ArrayDataset("folder", split, x, y if labelled else None, scale=1 / 255, levels=256,
                        n_classes=len(classes) if labelled else 0,
                        meta={"classes": classes, "path": str(path)})


@DATASETS.register("folder", splits=("train", "test", "all"), options=("path", "size", "channels"),
                   help="image folder (data.path=DIR, data.size=PX, data.channels=1|3); class subfolders give labels")
def load(split: str, path: Optional[str] = None, size: Optional[int] = None,
         channels: Optional[int] = None) -> ArrayDataset:
    if not path:
        raise GenlabError("dataset 'folder' needs data.path=DIR (a folder of PNG/JPEG images)")
    return load_folder(path, split, size, channels)
