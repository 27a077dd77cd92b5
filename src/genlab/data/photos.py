"""Real photographs that ship offline with scikit-image and scikit-learn, cut into square crops.

Photos (in this order; the ones whose file is not installed are left out, never downloaded):
scikit-image's astronaut, coffee, chelsea, rocket, hubble_deep_field, retina, immunohistochemistry (RGB)
and the textures brick, grass, gravel (grayscale, repeated to 3 channels); scikit-learn's china and
flower. The files are read directly from the installed packages (the files behind
`skimage.data.<name>()` and `sklearn.datasets.load_sample_image`), so loading never touches the network.
`meta["photos"]` lists the photos used.

Each photo is converted to RGB and, when its shorter side exceeds 4·size, downscaled (Lanczos) to a
shorter side of 4·size, so a crop shows structure rather than a flat patch (photos narrower than 2·size or
lower than size are upscaled to fit). Held-out region: test crops come from the right-hand strip of every
photo (its last max(size, ⌈W/4⌉) columns), train crops from the columns left of it, so no pixel of a test
crop is in any train crop. Crops are deterministic: split train draws from seed 0, test from seed 1 (photo
uniformly at random, then the position uniformly within its region).

`photos`: uint8 (N, C, size, size), C = data.channels (3, or 1 = ITU-R 601 luma), 256 levels.
`data.extra=wallpapers` adds the 10 real photographs of Debian's plasma-workspace-wallpapers (2560 x 1600,
prepared by the same rule) to the *train* split only, cropped anywhere (they are never evaluated on); the
test split and `held_out_photos` stay the bundled photos' held-out strips. Photos are drawn uniformly.
`photo-edges`: pix2pix's edges -> photo pairs: field `a` = Canny edges of the grayscale crop
(skimage.feature.canny, sigma 2.0, default thresholds; uint8 0/1, kind image, 2 levels, 1 channel), field
`b` = the crop as in `photos` (the primary field). 2n crops are drawn and the first n whose edge map has
at least 1 % edge pixels are kept (a flat patch of sky or a black border gives an empty edge map, from
which no photo can be inferred). Options: data.size (default 64), data.n (crops per split, default 2048),
data.channels (of `photos` / of `b`).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from ..fields import FieldSpec, Normalizer
from ..registry import DATASETS
from .base import ArrayDataset, FieldDataset

SKIMAGE_PHOTOS = (("astronaut", "astronaut.png"), ("coffee", "coffee.png"), ("chelsea", "chelsea.png"),
                  ("rocket", "rocket.jpg"), ("hubble_deep_field", "hubble_deep_field.jpg"), ("retina", "retina.jpg"),
                  ("immunohistochemistry", "ihc.png"), ("brick", "brick.png"), ("grass", "grass.png"),
                  ("gravel", "gravel.png"))
SKLEARN_PHOTOS = (("china", "china.jpg"), ("flower", "flower.jpg"))
# data.extra=wallpapers: the real photographs among Debian's plasma-workspace-wallpapers (2560 x 1600; the
# package's other images are drawings), training crops only, from the whole photo
WALLPAPER_DIR = Path("/usr/share/wallpapers")
WALLPAPER_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey",
                    "OneStandsOut", "Path", "summer_1am")
EXTRA = ("wallpapers",)
SEEDS = {"train": 0, "test": 1}
HELD_OUT = 0.25  # fraction of every photo's width (right-hand strip) kept for test crops
MAX_SIDE = 4  # photos are downscaled to a shorter side of at most MAX_SIDE · size
EDGE_SIGMA = 2.0  # Canny's Gaussian sigma in pixels of the crop (about 10 % edge pixels at size 64)
DEFAULT_SIZE, DEFAULT_N = 64, 2048
MIN_EDGES = 0.01  # photo-edges: crops whose edge map has fewer edge pixels (flat sky, black borders) are dropped


def _package_dir(name: str) -> Optional[Path]:
    """Where an installed package lives, found without importing it (importing skimage.data takes seconds)."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    return Path(spec.origin).parent if spec is not None and spec.origin else None


def photo_files() -> list[tuple[str, Path]]:
    """(name, file) of every bundled photo installed here."""
    out: list[tuple[str, Path]] = []
    skimage, sklearn = _package_dir("skimage"), _package_dir("sklearn")
    if skimage is not None:
        out += [(name, skimage / "data" / f) for name, f in SKIMAGE_PHOTOS if (skimage / "data" / f).is_file()]
    if sklearn is not None:
        root = sklearn / "datasets" / "images"
        out += [(name, root / f) for name, f in SKLEARN_PHOTOS if (root / f).is_file()]
    return out


def extra_files(extra: Optional[str]) -> list[tuple[str, Path]]:
    """(name, file) of the extra training photos named by data.extra ("" or None: none)."""
    if not extra:
        return []
    if extra not in EXTRA:
        raise GenlabError(f"data.extra={extra!r} is unknown; use one of: {', '.join(EXTRA)}")
    out = []
    for name in WALLPAPER_PHOTOS:
        f = WALLPAPER_DIR / name / "contents" / "images" / "2560x1600.jpg"
        if not f.is_file():
            raise GenlabError(f"data.extra=wallpapers needs Debian's plasma-workspace-wallpapers ({f} is missing); "
                              "run 'make data' (apt-get install plasma-workspace-wallpapers) or drop data.extra")
        out.append((f"wallpaper:{name}", f))
    return out


def _prepare(p: Path, size: int):
    """The photo as an RGB Pillow image scaled for crops of `size` (see the module docstring)."""
    from PIL import Image

    from .folder import decode_errors

    try:
        with Image.open(p) as im:
            im = im.convert("RGB")
    except decode_errors() as e:
        raise GenlabError(f"bundled photo {p} cannot be read ({e}); reinstall the package that ships it") from None
    w, h = im.size
    s = max(min(1.0, MAX_SIDE * size / min(w, h)), size / h, 2 * size / w)
    new = (max(2 * size, round(w * s)), max(size, round(h * s)))
    return im if new == (w, h) else im.resize(new, Image.LANCZOS)


def _region(width: int, size: int, split: str) -> tuple[int, int]:
    """[lo, hi] of the crop's left column for a split: train left of the held-out strip, test inside it."""
    strip = max(size, math.ceil(width * HELD_OUT))
    return (0, width - strip - size) if split == "train" else (width - strip, width - size)


def crops(split: str, size: int, n: int, channels: int, only: Optional[tuple[str, ...]] = None,
          extra: Optional[str] = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(N, C, size, size) uint8 crops, their (N, size, size) uint8 luma, and the photo names used
    (`only`: crop these photos only; `extra`: data.extra's photos join the train split, cropped anywhere)."""
    if split not in SEEDS:
        raise GenlabError(f"photos have no split {split!r}; use train or test")
    if not 8 <= size <= 1024:
        raise GenlabError(f"data.size={size} is out of range; use 8..1024 pixels")
    if n < 1:
        raise GenlabError(f"data.n={n} must be a positive number of crops")
    if channels not in (1, 3):
        raise GenlabError(f"data.channels={channels} is not supported; use 1 (grayscale) or 3 (RGB)")
    files = photo_files()
    if not files:
        raise GenlabError("no bundled photo is installed; install scikit-image or scikit-learn")
    if only:
        have = [name for name, _ in files]
        missing = [o for o in only if o not in have]
        if missing:
            raise GenlabError(f"photo {missing[0]!r} is not installed here; choose among: {', '.join(have)}")
        files = [(name, p) for name, p in files if name in only]
    whole = set()
    if split == "train":
        more = extra_files(extra)
        whole = {name for name, _ in more}
        files = files + more
    else:
        extra_files(extra)  # validated, but the test split stays the bundled photos' held-out strips
    rng = np.random.default_rng(SEEDS[split])
    pick = rng.integers(len(files), size=n)  # (N,) photo of each crop
    rgb = np.empty((n, 3, size, size), np.uint8)
    gray = np.empty((n, size, size), np.uint8)
    for k, (name, path) in enumerate(files):
        rows = np.flatnonzero(pick == k)
        if not len(rows):
            continue
        im = _prepare(path, size)
        a = np.asarray(im)  # (H, W, 3)
        luma = np.asarray(im.convert("L"))  # (H, W)
        lo, hi = (0, im.size[0] - size) if name in whole else _region(im.size[0], size, split)
        xs = rng.integers(lo, hi + 1, size=len(rows))
        ys = rng.integers(0, im.size[1] - size + 1, size=len(rows))
        for r, x0, y0 in zip(rows, xs, ys):
            rgb[r] = a[y0:y0 + size, x0:x0 + size].transpose(2, 0, 1)  # (size, size, 3) -> (3, size, size)
            gray[r] = luma[y0:y0 + size, x0:x0 + size]
    x = gray[:, None] if channels == 1 else rgb
    return x, gray, [name for name, _ in files]


def held_out_photos(size: int = DEFAULT_SIZE, channels: int = 3) -> list[tuple[str, np.ndarray]]:
    """(name, (C, H, W_strip) uint8) for every bundled photo: its whole held-out right-hand strip, as the
    photo is prepared for crops of `size` (the region test crops come from; no train crop touches it),
    C = channels (3, or 1 = the luma of `photos` with data.channels=1). The fixed held-out set of
    full-size evaluations (super-resolution: metrics/superres.py)."""
    if not 8 <= size <= 1024:
        raise GenlabError(f"data.size={size} is out of range; use 8..1024 pixels")
    out = []
    for name, path in photo_files():
        im = _prepare(path, size)
        lo, _ = _region(im.size[0], size, "test")
        if channels == 1:
            a = np.asarray(im.convert("L"))[None, :, lo:]  # (1, H, W_strip)
        else:
            a = np.asarray(im)[:, lo:].transpose(2, 0, 1)  # (H, W_strip, 3) -> (3, H, W_strip)
        out.append((name, np.ascontiguousarray(a)))
    return out


def _meta(names: list[str], size: int) -> dict:
    return {"photos": names, "source": "scikit-image and scikit-learn sample images",
            "split_rule": f"test crops from the right-hand {HELD_OUT:.0%} strip (at least {size} px) of every "
                          "photo, train crops from the rest; seeds train 0, test 1"}


@DATASETS.register("photos", splits=("train", "test"), options=("size", "n", "channels", "extra"),
                   help="crops of real photos bundled with scikit-image/scikit-learn (data.size=PX, default 64; "
                        "data.n=crops per split, default 2048; data.channels=1|3; data.extra=wallpapers adds 10 "
                        "Debian wallpaper photos to train); test crops from held-out regions")
def load(split: str, size: Optional[int] = None, n: Optional[int] = None,
         channels: Optional[int] = None, extra: Optional[str] = None) -> FieldDataset:
    size, n, channels = int(size or DEFAULT_SIZE), int(DEFAULT_N if n is None else n), int(channels or 3)
    x, _, names = crops(split, size, n, channels, extra=extra)
    meta = _meta(names, size)
    if extra:
        meta["extra"] = (f"data.extra={extra}: train crops also from anywhere in {', '.join(WALLPAPER_PHOTOS)} "
                         f"({WALLPAPER_DIR}, Debian plasma-workspace-wallpapers); test unchanged")
    return ArrayDataset("photos", split, torch.from_numpy(x), scale=1 / 255, levels=256, meta=meta)


def edges(gray: np.ndarray) -> np.ndarray:
    """(N, size, size) uint8 luma -> (N, 1, size, size) uint8 Canny edge maps (1 = edge)."""
    from skimage.feature import canny

    out = np.empty((len(gray), 1) + gray.shape[1:], np.uint8)
    for i, g in enumerate(gray):
        out[i, 0] = canny(g.astype(np.float32) / 255.0, sigma=EDGE_SIGMA)
    return out


@DATASETS.register("photo-edges", splits=("train", "test"), options=("size", "n", "channels"),
                   help="pairs edges -> photo for pix2pix: a = Canny edges (1 channel), b = the photo crop "
                        "(data.size, data.n, data.channels as for 'photos')")
def load_edges(split: str, size: Optional[int] = None, n: Optional[int] = None,
               channels: Optional[int] = None) -> FieldDataset:
    try:
        import skimage.feature  # noqa: F401
    except ImportError:
        raise GenlabError("dataset 'photo-edges' needs scikit-image (pip install scikit-image)") from None
    size, n, channels = int(size or DEFAULT_SIZE), int(DEFAULT_N if n is None else n), int(channels or 3)
    x, gray, names = crops(split, size, 2 * n, channels)  # twice as many, then drop near-empty edge maps
    a = edges(gray)
    busy = np.flatnonzero(a.reshape(len(a), -1).mean(1) >= MIN_EDGES)
    keep = busy[:n] if len(busy) >= n else np.concatenate([busy, np.setdiff1d(np.arange(len(a)), busy)])[:n]
    x, a = x[np.sort(keep)], a[np.sort(keep)]
    specs = {"a": FieldSpec((1, size, size), "image", 2, Normalizer((0.0,), (1.0,))),
             "b": FieldSpec((channels, size, size), "image", 256, Normalizer((0.0,), (255.0,)))}
    meta = {**_meta(names, size), "edges": f"skimage.feature.canny(luma / 255, sigma={EDGE_SIGMA})",
            "edge_filter": f"of 2n crops drawn, the first n with at least {MIN_EDGES:.0%} edge pixels are kept "
                           "(topped up with the others if too few)"}
    return FieldDataset("photo-edges", split, {"a": torch.from_numpy(a), "b": torch.from_numpy(x)}, specs,
                        primary="b", meta=meta)


@DATASETS.register("photos-unpaired", splits=("train", "test"), options=("a", "b", "size", "n", "channels"),
                   help="unpaired domains of real photo/texture crops (CycleGAN): data.a=brick, data.b=gravel (defaults; "
                        "any bundled photo names joined with +); data.size (64), data.n crops per domain (1024)")
def load_unpaired(split: str, a: Optional[str] = None, b: Optional[str] = None, size: Optional[int] = None,
                  n: Optional[int] = None, channels: Optional[int] = None):
    """Two streams of crops: field `a` from the photos named in data.a, field `b` from data.b (test crops
    from each photo's held-out strip, as `photos`); the textures brick, grass, gravel are grayscale."""
    from .streams import UnalignedDataset

    size, n, channels = int(size or DEFAULT_SIZE), int(n or 1024), int(channels or 3)
    names = {"a": tuple((a or "brick").split("+")), "b": tuple((b or "gravel").split("+"))}
    if set(names["a"]) & set(names["b"]):
        raise GenlabError(f"data.a and data.b share photos ({', '.join(sorted(set(names['a']) & set(names['b'])))}); "
                          "name two different sets")
    streams = {}
    for field, only in names.items():
        x, _, used = crops(split, size, n, channels, only)
        spec = FieldSpec((channels, size, size), "image", 256, Normalizer((0.0,), (255.0,)))
        streams[field] = FieldDataset("photos-unpaired", split, {field: torch.from_numpy(x)}, {field: spec},
                                      primary=field, meta={"photos": used})
    meta = {**_meta([*names["a"], *names["b"]], size), "domains": {k: list(v) for k, v in names.items()}}
    return UnalignedDataset("photos-unpaired", split, streams, primary="b", meta=meta)
