"""Fashion-MNIST (Xiao et al. 2017): 60k train / 10k test 28x28 grayscale, 10 classes.

Lookup order (DESIGN §4): `data.path`, `$GENLAB_DATA`, Debian's `dataset-fashion-mnist`
(/usr/share/datasets/fashion-mnist), then the user cache filled by `genlab data download
fashion-mnist`. Every file's SHA-256 is checked against the official release.
"""
from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from ..registry import DATASETS
from .base import ArrayDataset

FILES = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]
_verified: set[Path] = set()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "genlab" / "fashion-mnist"


def candidate_dirs(path: Optional[str] = None) -> list[Path]:
    """An explicit path is the only candidate (no silent fallback to other copies)."""
    if path:
        return [Path(path)]
    dirs = []
    env = os.environ.get("GENLAB_DATA")
    if env:
        dirs += [Path(env) / "fashion-mnist", Path(env)]
    return dirs + [DEBIAN_DIR, cache_dir()]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_dir(path: Optional[str] = None) -> Path:
    """First directory holding all four files; a one-line error saying how to get them otherwise."""
    for d in candidate_dirs(path):
        if all((d / f).is_file() for f in FILES):
            return d
    if path:
        raise GenlabError(f"Fashion-MNIST files not found in data.path={path!r}; it must hold "
                          f"{', '.join(FILES)}")
    raise GenlabError("Fashion-MNIST not found; install it with 'apt-get install dataset-fashion-mnist' "
                      "(Debian/Ubuntu), or run 'genlab data download fashion-mnist' when online, "
                      "or point GENLAB_DATA at a folder holding the IDX .gz files")


def verify(d: Path) -> None:
    for f, want in FILES.items():
        p = (d / f).resolve()
        if p in _verified:
            continue
        got = sha256(p)
        if got != want:
            raise GenlabError(f"{p} has SHA-256 {got[:12]}…, expected {want[:12]}… (corrupt or not the "
                              "official file); delete it and run 'genlab data download fashion-mnist'")
        _verified.add(p)


def read_idx(path: Path) -> np.ndarray:
    """Parse a gzipped IDX file (magic: 0x00 0x00 dtype ndim, then big-endian int32 dims)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise GenlabError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(tuple(int(d) for d in dims))


@DATASETS.register("fashion-mnist", splits=("train", "test"), options=("path",),
                   help="Fashion-MNIST 28x28 grayscale, 60k train / 10k test, 10 labels")
def load(split: str, path: Optional[str] = None) -> ArrayDataset:
    d = find_dir(path)
    verify(d)
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(d / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(d / f"{prefix}-labels-idx1-ubyte.gz")
    x = torch.from_numpy(images.copy()).unsqueeze(1)  # (N, 1, 28, 28) uint8
    y = torch.from_numpy(labels.astype(np.int64))
    return ArrayDataset("fashion-mnist", split, x, y, scale=1 / 255, levels=256, n_classes=10,
                        meta={"classes": CLASSES, "source": str(d)})


def download(dest: Optional[Path] = None) -> Path:
    """Fetch the official IDX files into the user cache (needs network), verifying SHA-256."""
    import urllib.request

    dest = dest or cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for f, want in FILES.items():
        target = dest / f
        if target.is_file() and sha256(target) == want:
            continue
        tmp = target.with_suffix(".part")
        try:
            urllib.request.urlretrieve(URL + f, tmp)
        except OSError as e:
            raise GenlabError(f"could not download {URL + f} ({e}); check the network, or install "
                              "Debian's dataset-fashion-mnist") from None
        if sha256(tmp) != want:
            tmp.unlink()
            raise GenlabError(f"downloaded {f} has the wrong SHA-256; try again later")
        os.replace(tmp, target)
    return dest
