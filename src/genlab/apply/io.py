"""User inputs for applying a model: image files, image folders, .npy/.npz arrays, dataset splits.

`read_inputs(spec_path, field_spec)` -> list of `Item(name, x, target)`, each x (C, H, W) in **model
space** of the field (images: 8-bit counts / 255, 16-bit / 65535, at their own size; arrays: data units
through the field's normaliser). Images are decoded with the field's channel count (grey ↔ RGB by
ITU-R 601 luma / repetition, transparency over white: data/folder.py's decoder). A dataset split
(`NAME:SPLIT`, with the run's data options) yields its source field and, when the split pairs them, the
target too. `write_output(path, y, spec)` writes a model-space output: PNG (8-bit) for images, .npy in data
units for physical fields.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..errors import GenlabError
from ..fields import FieldSpec

ARRAYS = (".npy", ".npz")


@dataclass
class Item:
    name: str  # output stem (relative path without suffix for folders)
    x: Tensor  # (C, H, W) model space
    target: Optional[Tensor] = None  # (C', H, W) model space, when known


def _image(p: Path, spec: FieldSpec) -> Tensor:
    from ..data.folder import Unreadable, read_header, read_image

    try:
        bits = read_header(p).bits
        a = read_image(p, spec.shape[0], bits).array().astype(np.float32)
    except Unreadable as e:
        raise GenlabError(f"cannot read image {p}: {e}; give PNG/JPEG/TIFF/BMP/WebP files") from None
    return torch.from_numpy(a / (255.0 if bits == 8 else 65535.0))


def _arrays(p: Path, spec: FieldSpec) -> list[Item]:
    try:
        raw = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise GenlabError(f"cannot read {p}: {e}; give a .npy/.npz array without pickled objects") from None
    arrays = {p.stem: raw} if isinstance(raw, np.ndarray) else {k: raw[k] for k in raw.files}
    c = spec.shape[0]
    out = []
    for key, a in arrays.items():
        if a.dtype.kind not in "fiub":
            raise GenlabError(f"{p}[{key}] has dtype {a.dtype}; give numbers")
        a = np.asarray(a, np.float32)
        if a.ndim == 2 and c == 1:
            a = a[None, None]
        elif a.ndim == 3:
            a = a[None] if a.shape[0] == c else (a[:, None] if c == 1 else None)
        if a is None or a.ndim != 4 or a.shape[1] != c:
            raise GenlabError(f"{p}[{key}] has shape {raw[key].shape if not isinstance(raw, np.ndarray) else raw.shape}; "
                              f"this model reads ({c}, H, W) or (N, {c}, H, W) arrays in data units")
        if not np.isfinite(a).all():
            raise GenlabError(f"{p}[{key}] holds NaN or inf values; fill or mask them first")
        x = torch.from_numpy(a)
        if spec.kind == "image" and spec.levels and a.max() > 1.0:
            x = x / float(spec.levels - 1)  # stored counts -> [0, 1]
        elif spec.kind != "image":
            x = spec.normalizer.to_model(x)
        for i in range(len(x)):
            out.append(Item(f"{key}_{i}" if len(x) > 1 else key, x[i]))
    return out


def read_inputs(path: str, spec: FieldSpec, *, n: Optional[int] = None, dataset_options: Optional[dict] = None,
                source: str = "", target: str = "") -> list[Item]:
    """Inputs from a file, folder, .npy/.npz or dataset split (see the module docstring)."""
    from ..data.folder import image_files

    p = Path(path)
    if p.is_dir():
        files = image_files(p)
        if not files:
            raise GenlabError(f"folder {path!r} has no image files (png, jpg, tif, bmp, webp)")
        items = [Item(str(f.relative_to(p).with_suffix("")), _image(f, spec)) for f in files[: n or None]]
    elif p.suffix.lower() in ARRAYS and p.is_file():
        items = _arrays(p, spec)[: n or None]
    elif p.is_file():
        items = [Item(p.stem, _image(p, spec))]
    elif "/" in path or "\\" in path or p.suffix:
        raise GenlabError(f"--input {path!r} does not exist; give an image, a folder, a .npy/.npz or NAME:SPLIT")
    else:
        items = _dataset(path, n or 16, dataset_options or {}, source, target)
    return items


def _dataset(spec: str, n: int, options: dict, source: str, target: str) -> list[Item]:
    from ..data import load_dataset, parse_spec

    name, split = parse_spec(spec, "test")
    data = load_dataset(name, split, **options)
    streams = getattr(data, "streams", None)
    src = next((d for d in streams.values() if source in d.info.fields), None) if streams else data
    if src is None or source not in src.info.fields:
        raise GenlabError(f"dataset {spec!r} has no field {source!r} for this model's input")
    b = src.batch(slice(0, min(n, len(src))))
    tgt = b.fields.get(target)
    return [Item(f"{name}-{split}-{i:04d}", b[source][i], None if tgt is None else tgt[i]) for i in range(len(b[source]))]


def write_output(path: Path, y: Tensor, spec: FieldSpec) -> Path:
    """Write one model-space output (C, H, W): PNG for images, .npy (data units) for fields."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if spec.kind == "image":
        from PIL import Image

        a = (y.detach().float().clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
        Image.fromarray(a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)).save(path)
    else:
        np.save(path, spec.normalizer.to_data(y.detach().float().cpu().unsqueeze(0))[0].numpy())
    return path
