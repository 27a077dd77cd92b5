"""Image folders: PNG/JPEG/BMP/WebP of any size, grayscale or colour, 8- or 16-bit, resized and centre-cropped.

Class subfolders give labels (sorted names -> 0..K-1); loose files are unlabelled. If the folder has
`train/` and `test/` subfolders those are the splits (`all` = both; class names are the union of both, so
a class missing from one split keeps its number); otherwise a fixed seeded 90/10 split over every listed
file (`all` gives every image). Only the split's images are decoded, once, and kept in memory.

This module also holds the one image decoder of every folder dataset (`folder`, `folder-pairs`,
`folder-unpaired`):

- Headers first: every file is opened without decoding its pixels (`Image.open`, cheap) to settle the
  folder's channels, size and bit depth from *all* files (of every split), never from whichever sorts
  first. Mixed grayscale/colour without `data.channels`, or mixed sizes without `data.size`, is a one-line
  error naming the counts or the smallest and largest image.
- Unreadable files (not an image, truncated, a decompression bomb, any error Pillow raises while reading
  them) are a one-line error naming the file, or with `data.skip_bad=true` are skipped with one warning
  that says how many.
- Bit depth: an all-8-bit folder is stored as uint8 counts (normaliser scale 255, 256 levels; the tensors
  are exactly those of the 8-bit decoder before 16-bit support). If any file is 16-bit (PNG gray `I;16`,
  gray+alpha, RGB or RGBA at 16 bits per sample) the folder is stored as int32 counts 0..65535 (scale
  65535, 65536 levels); 8-bit files in it are promoted exactly, v -> v·257. Pillow decodes 16-bit colour
  PNGs to 8 bits only, so those are decoded twice (high bytes, then low bytes through Pillow's
  little-endian unpacker on the same big-endian stream) and recombined: no precision is lost.
- Colour conversion: transparency (RGBA, LA, palette or tRNS transparency) is composited over *white*;
  colour -> gray uses ITU-R 601 luma (Pillow's "L"); gray -> colour repeats the channel. Palette images
  count as colour.
- Resizing: the shorter side is resized to `size` (bicubic; 16-bit images in float, then rounded and
  clipped), then the centre `size x size` square is cropped.
"""
from __future__ import annotations

import struct
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from ..errors import GenlabError
from ..registry import DATASETS
from .base import ArrayDataset

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N"}
ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
PNG16_RAWMODES = {"RGB;16B": 3, "RGBA;16B": 3, "LA;16B": 1}  # rawmode -> channels (alpha not counted)
SKIP_HINT = "remove it, or pass --data.skip_bad=true to skip unreadable files"


def decode_errors() -> tuple[type[BaseException], ...]:
    """Every exception Pillow raises on a damaged, truncated, hostile or unsupported file (OSError covers
    UnidentifiedImageError and 'image file is truncated'; SyntaxError: broken PNG chunks; struct.error:
    short headers; DecompressionBombError: more than twice Image.MAX_IMAGE_PIXELS)."""
    from PIL import Image

    return (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError,
            struct.error, Image.DecompressionBombError, Unreadable)


class Unreadable(Exception):
    """A file that cannot be used as an image (internal; becomes a GenlabError or a skip)."""


# --- headers ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Header:
    """What `Image.open` tells without decoding pixels: size in pixels, channels (1 gray, 3 colour; alpha
    not counted), bits per sample (8 or 16)."""

    path: Path
    width: int
    height: int
    channels: int
    bits: int

    def halves(self) -> tuple["Header", "Header"]:
        """The headers of the left and right halves of a side-by-side A|B image."""
        w = self.width // 2
        return replace(self, width=w), replace(self, width=self.width - w)


def _rawmode(im) -> Optional[str]:
    if len(im.tile) != 1:
        return None
    args = im.tile[0][3]
    return args if isinstance(args, str) else (args[0] if args and isinstance(args[0], str) else None)


def _is_png16(im) -> Optional[str]:
    raw = _rawmode(im) if im.format == "PNG" else None
    return raw if raw in PNG16_RAWMODES else None


def read_header(p: Path) -> Header:
    """The header of one file; raises Unreadable (with the reason) if Pillow cannot open it."""
    from PIL import Image

    try:
        with Image.open(p) as im:
            w, h = im.size
            mode, raw16 = im.mode, _is_png16(im)
    except decode_errors() as e:
        raise Unreadable(_reason(e)) from None
    if mode == "F" or mode.startswith("I;32") or w < 1 or h < 1:
        raise Unreadable(f"unsupported pixel mode {mode}")
    if raw16:
        return Header(p, w, h, PNG16_RAWMODES[raw16], 16)
    return Header(p, w, h, 1 if mode in GRAY_MODES else 3, 16 if mode.startswith("I") else 8)


def _reason(e: BaseException) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg if len(msg) <= 120 else msg[:117] + "..."


def unreadable_error(bad: Sequence[tuple[Path, str]]) -> GenlabError:
    """One line naming the first unreadable file, the count and the fix."""
    p, why = bad[0]
    more = f" ({len(bad)} unreadable files in all)" if len(bad) > 1 else ""
    return GenlabError(f"cannot read image {p} ({why}){more}; {SKIP_HINT}")


def warn_skipped(bad: Sequence[tuple[Path, str]], where: str) -> None:
    if bad:
        p, why = bad[0]
        warnings.warn(f"skipped {len(bad)} unreadable image file(s) of {where} (data.skip_bad=true); "
                      f"first: {p} ({why})", UserWarning, stacklevel=3)


def scan(paths: Sequence[Path], skip_bad: bool) -> tuple[dict[Path, Header], list[tuple[Path, str]]]:
    """Headers of every readable file and the (path, reason) of the others; raises at once on an
    unreadable file unless skip_bad."""
    headers, bad = {}, []
    for p in paths:
        try:
            headers[p] = read_header(p)
        except Unreadable as e:
            bad.append((p, str(e)))
    if bad and not skip_bad:
        raise unreadable_error(bad)
    return headers, bad


def settle_channels(headers: Sequence[Header], channels: Optional[int], where: str) -> int:
    """data.channels if given, else the one channel count of every file (mixed -> error)."""
    if channels is not None:
        if channels not in (1, 3):
            raise GenlabError(f"data.channels={channels} is not supported; use 1 (grayscale) or 3 (RGB)")
        return int(channels)
    counts = Counter(h.channels for h in headers)
    if len(counts) > 1:
        raise GenlabError(f"{where} mixes {counts[1]} grayscale and {counts[3]} colour images; pass "
                          "--data.channels=1 or --data.channels=3 to convert them all to one")
    return next(iter(counts))


def settle_size(headers: Sequence[Header], size: Optional[int], where: str) -> int:
    """data.size if given, else the shorter side of the one image size of every file (mixed -> error)."""
    if size is not None:
        if int(size) < 1:
            raise GenlabError(f"data.size={size} must be a positive number of pixels")
        return int(size)
    sizes = {(h.width, h.height) for h in headers}
    if len(sizes) > 1:
        small = min(headers, key=lambda h: (h.width * h.height, h.width))
        large = max(headers, key=lambda h: (h.width * h.height, h.width))
        raise GenlabError(f"{where} holds images of {len(sizes)} different sizes (smallest {small.width}x"
                          f"{small.height} {small.path.name}, largest {large.width}x{large.height} "
                          f"{large.path.name}); pass --data.size=PX to resize and centre-crop all to PX x PX")
    w, h = next(iter(sizes))
    return min(w, h)


def settle_bits(headers: Sequence[Header]) -> int:
    """16 if any file is 16-bit (8-bit files are then promoted), else 8."""
    return max(h.bits for h in headers)


# --- pixels ----------------------------------------------------------------------------------------

class Picture:
    """A decoded image as Pillow bands of one size: one 8-bit "L"/"RGB" image (bits=8), or one "F" image
    per channel holding 16-bit counts 0..65535 (bits=16)."""

    def __init__(self, bands: list, bits: int):
        self.bands, self.bits = bands, bits

    @property
    def size(self) -> tuple[int, int]:
        return self.bands[0].size  # (width, height)

    def crop(self, box: tuple[int, int, int, int]) -> "Picture":
        return Picture([b.crop(box) for b in self.bands], self.bits)

    def fit(self, size: int) -> "Picture":
        """Shorter side to `size` (bicubic), then the centre size x size square."""
        from PIL import Image

        w, h = self.size
        s = size / min(w, h)
        new = (max(size, round(w * s)), max(size, round(h * s)))
        bands = [b.resize(new, Image.BICUBIC) for b in self.bands]
        left, top = (new[0] - size) // 2, (new[1] - size) // 2
        return Picture([b.crop((left, top, left + size, top + size)) for b in bands], self.bits)

    def array(self) -> np.ndarray:
        """(C, H, W): uint8 counts (8-bit) or int32 counts 0..65535 (16-bit)."""
        if self.bits == 8:
            a = np.asarray(self.bands[0], dtype=np.uint8)
            return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)
        return np.stack([np.clip(np.rint(np.asarray(b, dtype=np.float32)), 0, 65535) for b in self.bands]
                        ).astype(np.int32)


def _decode_raw(p: Path, rawmode: Optional[str]) -> np.ndarray:
    """Decode the single tile of `p`, optionally through another unpacker of the same bits per pixel."""
    from PIL import Image

    with Image.open(p) as im:
        if rawmode is not None:
            t = im.tile[0]
            im.tile = [t._replace(args=rawmode) if hasattr(t, "_replace") else tuple(t[:3]) + (rawmode,)]
        im.load()
        return np.asarray(im)


def _read16(p: Path, im) -> np.ndarray:
    """(H, W, K) float32 counts 0..65535 of a 16-bit image; K = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA."""
    if im.mode.startswith("I"):
        im.load()
        a = np.asarray(im).astype(np.float32)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise Unreadable(f"32-bit pixel values outside 0..65535 ({a.min():.0f}..{a.max():.0f})")
        return a[..., None]
    raw = _is_png16(im)
    if raw == "LA;16B":  # 4 bytes per pixel: the 8-bit RGBA unpacker returns them as they are
        b = _decode_raw(p, "RGBA").astype(np.float32)  # (H, W, 4): L hi, L lo, A hi, A lo
        return np.stack([b[..., 0] * 256 + b[..., 1], b[..., 2] * 256 + b[..., 3]], -1)
    hi = _decode_raw(p, None).astype(np.float32)  # Pillow keeps the high byte of each sample
    lo = _decode_raw(p, raw.replace(";16B", ";16L")).astype(np.float32)  # ";16L" takes the other byte
    return hi * 256 + lo


def _to_8bit(im, channels: int):
    """An 8-bit "L" or "RGB" image: transparency over white, then Pillow's conversion."""
    from PIL import Image

    if im.mode in ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), rgba)
    return im.convert("L" if channels == 1 else "RGB")


def _to_channels16(a: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, K) 16-bit counts -> (H, W, channels): alpha over white, 601 luma or repeated gray."""
    if a.shape[-1] in (2, 4):
        alpha = a[..., -1:] / 65535.0
        a = a[..., :-1] * alpha + 65535.0 * (1.0 - alpha)
    if a.shape[-1] == 3 and channels == 1:
        a = a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None]  # (H, W, 1)
    elif a.shape[-1] == 1 and channels == 3:
        a = np.repeat(a, 3, axis=-1)
    return a.astype(np.float32)


def read_image(p: Path, channels: int, bits: int) -> Picture:
    """Decode one file at its own size with `channels` (1|3) at `bits` (8|16). Raises Unreadable."""
    from PIL import Image

    try:
        with Image.open(p) as im:
            if im.mode.startswith("I") or _is_png16(im):
                a = _to_channels16(_read16(p, im), channels)
            else:
                im8 = _to_8bit(im, channels)
                if bits == 8:
                    return Picture([im8], 8)
                a = np.asarray(im8, dtype=np.float32).reshape(im8.size[1], im8.size[0], channels) * 257.0
    except decode_errors() as e:
        raise Unreadable(_reason(e)) from None
    if bits == 8:  # cannot happen: a 16-bit file makes the folder 16-bit
        raise Unreadable("16-bit image in an 8-bit folder")
    return Picture([Image.fromarray(np.ascontiguousarray(a[..., c])) for c in range(channels)], 16)


def decode_image(p: Path, size: int, channels: int, bits: int) -> np.ndarray:
    """(C, size, size) uint8 (bits 8) or int32 (bits 16) counts of one file. Raises Unreadable."""
    return read_image(p, channels, bits).fit(size).array()


def decode_all(items: Sequence, decode: Callable, skip_bad: bool,
               name: Callable = lambda item: item) -> tuple[list, list[int], list[tuple[Path, str]]]:
    """decode(item) for every item: (results, indices of the decoded items, (path, reason) of the rest).
    Raises the one-line error at the first unreadable item unless skip_bad."""
    out, kept, bad = [], [], []
    for i, item in enumerate(items):
        try:
            out.append(decode(item))
            kept.append(i)
        except Unreadable as e:
            bad.append((name(item), str(e)))
            if not skip_bad:
                raise unreadable_error(bad) from None
    return out, kept, bad


def image_files(root: Path) -> list[Path]:
    """Image files under root (recursively, sorted, hidden entries skipped)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def split_order(n: int, split: str) -> list[int]:
    """Indices of a split of n items in order: the fixed seeded 90/10 split (`all` = every item)."""
    if split == "all":
        return list(range(n))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    n_test = max(1, n // 10) if n > 1 else 0
    return (perm[:n_test] if split == "test" else perm[n_test:]).tolist()


# --- the folder dataset ----------------------------------------------------------------------------

def _classes(root: Path) -> list[str]:
    return sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))


def _files(root: Path, classes: Sequence[str]) -> tuple[list[Path], list[int]]:
    """Loose images (label -1), then the images of each class subfolder present (label = index in classes)."""
    files, labels = [], []
    for p in sorted(root.iterdir()):
        if p.is_file() and p.suffix.lower() in EXTENSIONS:
            files.append(p)
            labels.append(-1)
    for k, c in enumerate(classes):
        if not (root / c).is_dir():
            continue
        for p in sorted((root / c).rglob("*")):
            if p.is_file() and p.suffix.lower() in EXTENSIONS:
                files.append(p)
                labels.append(k)
    return files, labels


def load_folder(path: str, split: str = "all", size: Optional[int] = None, channels: Optional[int] = None,
                skip_bad: bool = False) -> ArrayDataset:
    root = Path(path)
    if not root.is_dir():
        raise GenlabError(f"image folder {path!r} does not exist; give an existing directory")
    if channels is not None and channels not in (1, 3):
        raise GenlabError(f"data.channels={channels} is not supported; use 1 (grayscale) or 3 (RGB)")
    if (root / "train").is_dir() and (root / "test").is_dir():
        # the splits are folders; class names (and label numbers) are the union of both, and channels,
        # size and bit depth are settled over both, so train and test always agree
        classes = sorted(set(_classes(root / "train")) | set(_classes(root / "test")))
        per = {s: _files(root / s, classes) for s in ("train", "test")}
        files = per["train"][0] + per["test"][0] if split == "all" else per[split][0]
        labels = per["train"][1] + per["test"][1] if split == "all" else per[split][1]
        every = per["train"][0] + per["test"][0]
        split_rule = "all"
    else:
        classes = _classes(root)
        files, labels = _files(root, classes)
        every, split_rule = files, split
    if not files:
        raise GenlabError(f"image folder {path!r} holds no PNG/JPEG images (looked in it and its class "
                          "subfolders)")
    headers, bad = scan(every, skip_bad)
    if not headers:
        raise GenlabError(f"image folder {path!r} holds no readable image ({len(bad)} unreadable files, "
                          f"first {bad[0][0]}: {bad[0][1]})")
    where = f"image folder {path!r}"
    hs = list(headers.values())
    channels = settle_channels(hs, channels, where)
    size, bits = settle_size(hs, size, where), settle_bits(hs)
    order = split_order(len(files), split_rule)  # over every listed file: a damaged one never moves the split
    reasons = dict(bad)
    skipped = [(files[i], reasons[files[i]]) for i in order if files[i] in reasons]
    todo = [i for i in order if files[i] not in reasons]
    arrays, kept, bad2 = decode_all(todo, lambda i: decode_image(files[i], size, channels, bits), bool(skip_bad),
                                    name=lambda i: files[i])
    skipped += bad2
    if not arrays:
        raise GenlabError(f"image folder {path!r} has no readable image in split {split!r}")
    warn_skipped(skipped, f"{where} ({split})")
    x = torch.from_numpy(np.stack(arrays))  # (N, C, size, size)
    y = torch.tensor([labels[todo[k]] for k in kept], dtype=torch.int64)
    labelled = bool(classes) and bool((y >= 0).all())
    levels = 256 if bits == 8 else 65536
    return ArrayDataset("folder", split, x, y if labelled else None, scale=1 / (levels - 1), levels=levels,
                        n_classes=len(classes) if labelled else 0,
                        meta={"classes": classes, "path": str(path), "bits": bits, "skipped": len(skipped)})


@DATASETS.register("folder", splits=("train", "test", "all"), options=("path", "size", "channels", "skip_bad"),
                   help="image folder (data.path=DIR, data.size=PX, data.channels=1|3, data.skip_bad=true); "
                        "class subfolders give labels; 8- or 16-bit")
def load(split: str, path: Optional[str] = None, size: Optional[int] = None,
         channels: Optional[int] = None, skip_bad: Optional[bool] = None) -> ArrayDataset:
    if not path:
        raise GenlabError("dataset 'folder' needs data.path=DIR (a folder of PNG/JPEG images)")
    return load_folder(path, split, size, channels, bool(skip_bad))
