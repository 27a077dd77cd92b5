"""Paired and unpaired image folders: the pix2pix and CycleGAN layouts (fields `a` and `b`).

`folder-pairs` (data.path=DIR, data.pairs=auto|dirs|ab|ba) gives a FieldDataset with fields `a` (source
domain) and `b` (target domain, the primary field), both kind image and size x size:
- dirs: `A/` and `B/` subfolders whose files pair up by name without extension (relative path, so
  `A/x/1.png` pairs with `B/x/1.jpg`). Files on one side only are a one-line error listing the first few
  and the count, or with data.skip_bad=true are dropped with a warning.
- ab / ba: side-by-side images (pix2pix's combined format): each file is A|B (ab) or B|A (ba) joined
  along the width; the left part is the first width // 2 columns.
- auto (default): dirs when `A/` and `B/` exist, else ab.
Splits: `train/` with `test/` (or `val/`) holding either layout, or `A/train/` + `B/train/` (and
`test`/`val`), are the splits (`all` = train + test); otherwise a fixed seeded 90/10 split of the pairs.

`folder-unpaired` (data.path=DIR): CycleGAN's `trainA/ trainB/ testA/ testB/` -> an UnalignedDataset with
streams "a" (field a) and "b" (field b, the primary) of their own lengths.

Decoding is folder.py's (one decoder for every folder dataset): headers of every file of every split
settle the size (shared by a and b), and the channels and bit depth of each side on its own, so gray
edge maps can pair with RGB photos; data.channels, when given, applies to both sides. Unreadable files
are an error naming the file, or skipped (with their partner) under data.skip_bad=true.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from ..fields import FieldSpec, Normalizer
from ..registry import DATASETS
from .base import FieldDataset
from .folder import (EXTENSIONS, Unreadable, decode_all, decode_image, image_files, read_image, scan,
                     settle_bits, settle_channels, settle_size, split_order, warn_skipped)
from .streams import UnalignedDataset

PAIRS = ("auto", "dirs", "ab", "ba")


def _sub(d: Path, name: str) -> Optional[Path]:
    """Subfolder `name` of d (also in lower case), if it exists."""
    for n in (name, name.lower()):
        if (d / n).is_dir():
            return d / n
    return None


def _splits(d: Path) -> Optional[dict[str, Optional[Path]]]:
    """{"train": d/train, "test": d/test or d/val or None} when d has a train/ folder."""
    train = _sub(d, "train")
    if train is None:
        return None
    return {"train": train, "test": _sub(d, "test") or _sub(d, "val")}


def image_spec(channels: int, size: int, bits: int) -> FieldSpec:
    levels = 256 if bits == 8 else 65536
    return FieldSpec((channels, size, size), "image", levels, Normalizer((0.0,), (float(levels - 1),)))


# --- folder-pairs ----------------------------------------------------------------------------------

@dataclass
class _Source:
    """One split's pairs: `dirs` items (A file, B file) matched by name, or side-by-side files (`ab`, `ba`)."""

    dir: Path
    kind: str
    items: list[tuple[Path, ...]]
    dropped: int = 0  # unmatched files left out under skip_bad

    def files(self) -> list[Path]:
        return [p for item in self.items for p in item]


def _in_dir(d: Path, pairs: str, skip_bad: bool) -> _Source:
    """The pairs of one directory: its A/ + B/ subfolders, or its side-by-side images."""
    a, b = _sub(d, "A"), _sub(d, "B")
    if pairs == "dirs" or (pairs == "auto" and a is not None and b is not None):
        if a is None or b is None:
            raise GenlabError(f"data.pairs=dirs needs A/ and B/ subfolders in {str(d)!r}")
        return _matched(d, a, b, skip_bad)
    items = [(p,) for p in sorted(d.iterdir()) if p.is_file() and p.suffix.lower() in EXTENSIONS]
    if not items:
        raise GenlabError(f"{str(d)!r} holds neither A/ + B/ subfolders nor side-by-side AB images; "
                          "see 'genlab list datasets' for the folder-pairs layouts")
    return _Source(d, "ab" if pairs == "auto" else pairs, items)


def _matched(d: Path, a: Path, b: Path, skip_bad: bool) -> _Source:
    """Files of a/ and b/ paired by relative path without extension."""
    side = {}
    for name, root in (("A", a), ("B", b)):
        files: dict[str, Path] = {}
        for p in image_files(root):
            key = p.relative_to(root).with_suffix("").as_posix()
            if key in files:
                raise GenlabError(f"{str(root)!r} has two images named {key!r} ({files[key].name}, {p.name}); "
                                  "keep one")
            files[key] = p
        side[name] = files
    only_a = sorted(set(side["A"]) - set(side["B"]))
    only_b = sorted(set(side["B"]) - set(side["A"]))
    if only_a or only_b:
        what = "; ".join(f"{len(o)} in {s}/ only (e.g. {', '.join(o[:3])})"
                         for s, o in (("A", only_a), ("B", only_b)) if o)
        if not skip_bad:
            raise GenlabError(f"unmatched images in {str(d)!r}: {what}; give each file a partner of the same "
                              "name (without extension), or pass --data.skip_bad=true to drop them")
        warnings.warn(f"dropped unmatched images in {str(d)!r} (data.skip_bad=true): {what}", UserWarning,
                      stacklevel=4)
    keys = sorted(set(side["A"]) & set(side["B"]))
    if not keys:
        raise GenlabError(f"{str(d)!r} has no pair of images with the same name in A/ and B/")
    return _Source(d, "dirs", [(side["A"][k], side["B"][k]) for k in keys], len(only_a) + len(only_b))


def _sources(root: Path, pairs: str, skip_bad: bool) -> dict[str, Optional[_Source]]:
    """{"train": ..., "test": ... or None} when the folder has splits, else {"all": ...}."""
    sp = _splits(root)
    if sp is not None:  # train/ + test/ (or val/), each holding A/ + B/ or side-by-side images
        return {s: None if d is None else _in_dir(d, pairs, skip_bad) for s, d in sp.items()}
    a, b = _sub(root, "A"), _sub(root, "B")
    if pairs in ("auto", "dirs") and a is not None and b is not None:
        spa, spb = _splits(a), _splits(b)
        if spa is not None and spb is not None:  # A/train + B/train (pix2pix's layout before combining)
            return {s: None if spa[s] is None or spb[s] is None else _matched(root, spa[s], spb[s], skip_bad)
                    for s in ("train", "test")}
    return {"all": _in_dir(root, pairs, skip_bad)}


def load_pairs(path: str, split: str = "train", size: Optional[int] = None, channels: Optional[int] = None,
               pairs: Optional[str] = None, skip_bad: bool = False) -> FieldDataset:
    root = Path(path)
    if not root.is_dir():
        raise GenlabError(f"paired image folder {path!r} does not exist; give an existing directory")
    pairs = (pairs or "auto").lower()
    if pairs not in PAIRS:
        raise GenlabError(f"data.pairs={pairs!r} is invalid; use auto, dirs (A/ + B/), ab or ba (side by side)")
    if channels is not None and channels not in (1, 3):
        raise GenlabError(f"data.channels={channels} is not supported; use 1 (grayscale) or 3 (RGB)")
    sources = _sources(root, pairs, skip_bad)
    every = [s for s in sources.values() if s is not None]
    headers, bad = scan([p for s in every for p in s.files()], skip_bad)
    where = f"paired image folder {path!r}"
    kinds = {s.kind for s in every}
    if len(kinds) > 1:
        raise GenlabError(f"{where} mixes layouts between its splits ({', '.join(sorted(kinds))}); use one")
    kind = kinds.pop()
    if kind == "dirs":
        ha = [headers[p] for s in every for p, _ in s.items if p in headers]
        hb = [headers[p] for s in every for _, p in s.items if p in headers]
        if not ha or not hb:
            raise GenlabError(f"{where} has no readable image on side {'A' if not ha else 'B'}")
        ch_a = settle_channels(ha, channels, f"A/ of {where}")
        ch_b = settle_channels(hb, channels, f"B/ of {where}")
        bits_a, bits_b = settle_bits(ha), settle_bits(hb)
        size = settle_size(ha + hb, size, where)
    else:
        hs = list(headers.values())
        if not hs:
            raise GenlabError(f"{where} holds no readable image")
        ch_a = ch_b = settle_channels(hs, channels, where)
        bits_a = bits_b = settle_bits(hs)
        size = settle_size([h.halves()[0] for h in hs], size, where)

    if "all" in sources:
        src = sources["all"]
        items = [src.items[i] for i in split_order(len(src.items), split)]
    elif split == "all":
        items = [it for s in every for it in s.items]
    else:
        src = sources[split]
        if src is None:
            raise GenlabError(f"{where} has a train/ folder but no test/ or val/ folder for split {split!r}")
        items = src.items
    reasons = dict(bad)
    skipped = [(p, reasons[p]) for it in items for p in it if p in reasons]
    items = [it for it in items if not any(p in reasons for p in it)]

    def decode(item):
        if kind == "dirs":
            return (decode_image(item[0], size, ch_a, bits_a), decode_image(item[1], size, ch_b, bits_b))
        pic = read_image(item[0], ch_a, bits_a)
        w, h = pic.size
        if w < 2:
            raise Unreadable(f"{w} pixel(s) wide: not a side-by-side pair")
        left, right = pic.crop((0, 0, w // 2, h)), pic.crop((w // 2, 0, w, h))
        first, second = (left, right) if kind == "ab" else (right, left)
        return first.fit(size).array(), second.fit(size).array()

    out, _, bad2 = decode_all(items, decode, skip_bad, name=lambda it: it[0])
    skipped += bad2
    if not out:
        raise GenlabError(f"{where} has no readable pair in split {split!r}")
    warn_skipped(skipped, f"{where} ({split})")
    a = torch.from_numpy(np.stack([o[0] for o in out]))  # (N, C_a, size, size)
    b = torch.from_numpy(np.stack([o[1] for o in out]))  # (N, C_b, size, size)
    specs = {"a": image_spec(ch_a, size, bits_a), "b": image_spec(ch_b, size, bits_b)}
    meta = {"path": str(path), "pairs": kind, "skipped": len(skipped),
            "unmatched": sum(s.dropped for s in every)}
    return FieldDataset("folder-pairs", split, {"a": a, "b": b}, specs, primary="b", meta=meta)


@DATASETS.register("folder-pairs", splits=("train", "test", "all"),
                   options=("path", "size", "channels", "pairs", "skip_bad"),
                   help="paired images a -> b (data.path=DIR with A/ + B/ of matching names, or side-by-side "
                        "A|B images: data.pairs=auto|dirs|ab|ba; train/ + test/ or val/ splits)")
def load(split: str, path: Optional[str] = None, size: Optional[int] = None, channels: Optional[int] = None,
         pairs: Optional[str] = None, skip_bad: Optional[bool] = None) -> FieldDataset:
    if not path:
        raise GenlabError("dataset 'folder-pairs' needs data.path=DIR (A/ + B/ subfolders or side-by-side images)")
    return load_pairs(path, split, size, channels, pairs, bool(skip_bad))


# --- folder-unpaired -------------------------------------------------------------------------------

DOMAIN_DIRS = {("train", "a"): "trainA", ("train", "b"): "trainB", ("test", "a"): "testA", ("test", "b"): "testB"}


def load_unpaired(path: str, split: str = "train", size: Optional[int] = None, channels: Optional[int] = None,
                  skip_bad: bool = False) -> UnalignedDataset:
    root = Path(path)
    if not root.is_dir():
        raise GenlabError(f"unpaired image folder {path!r} does not exist; give an existing directory")
    if channels is not None and channels not in (1, 3):
        raise GenlabError(f"data.channels={channels} is not supported; use 1 (grayscale) or 3 (RGB)")
    where = f"unpaired image folder {path!r}"
    files = {}
    for (s, dom), name in DOMAIN_DIRS.items():
        d = root / name
        files[s, dom] = image_files(d) if d.is_dir() else None
    for dom in ("a", "b"):
        if not files[split, dom]:
            name = DOMAIN_DIRS[split, dom]
            raise GenlabError(f"{where} has no images in {name}/ (CycleGAN layout: trainA/ trainB/ testA/ testB/)")
    headers, bad = scan([p for fs in files.values() if fs for p in fs], skip_bad)
    hs = {dom: [headers[p] for (s, d), fs in files.items() if d == dom and fs for p in fs if p in headers]
          for dom in ("a", "b")}
    for dom in ("a", "b"):
        if not hs[dom]:
            raise GenlabError(f"{where} has no readable image in domain {dom.upper()}")
    size = settle_size(hs["a"] + hs["b"], size, where)
    reasons = dict(bad)
    streams, skipped = {}, []
    for dom in ("a", "b"):
        ch = settle_channels(hs[dom], channels, f"domain {dom.upper()} of {where}")
        bits = settle_bits(hs[dom])
        todo = [p for p in files[split, dom] if p not in reasons]
        skipped += [(p, reasons[p]) for p in files[split, dom] if p in reasons]
        arrays, _, bad2 = decode_all(todo, lambda p: decode_image(p, size, ch, bits), skip_bad)
        skipped += bad2
        if not arrays:
            raise GenlabError(f"{where} has no readable image in {DOMAIN_DIRS[split, dom]}/")
        x = torch.from_numpy(np.stack(arrays))  # (N_dom, C, size, size)
        streams[dom] = FieldDataset("folder-unpaired", split, {dom: x}, {dom: image_spec(ch, size, bits)},
                                    primary=dom, meta={"path": str(root / DOMAIN_DIRS[split, dom])})
    warn_skipped(skipped, f"{where} ({split})")
    return UnalignedDataset("folder-unpaired", split, streams, primary="b",
                            meta={"path": str(path), "skipped": len(skipped)})


@DATASETS.register("folder-unpaired", splits=("train", "test"), options=("path", "size", "channels", "skip_bad"),
                   help="unpaired domains a, b (data.path=DIR with CycleGAN's trainA/ trainB/ testA/ testB/)")
def load_cyclegan(split: str, path: Optional[str] = None, size: Optional[int] = None,
                  channels: Optional[int] = None, skip_bad: Optional[bool] = None) -> UnalignedDataset:
    if not path:
        raise GenlabError("dataset 'folder-unpaired' needs data.path=DIR (trainA/ trainB/ testA/ testB/)")
    return load_unpaired(path, split, size, channels, bool(skip_bad))


__all__ = ["load_pairs", "load_unpaired", "image_spec"]
