"""Datasets (registered in DATASETS) and in-memory batching.

`load_dataset("fashion-mnist:test")` or `load_dataset("fashion-mnist", split="test")`.
"""
from __future__ import annotations

from typing import Any

from ..errors import GenlabError
from ..registry import DATASETS
from .base import ArrayDataset, IndexBatcher  # noqa: F401
from . import arrays, digits, fashion_mnist, fmnist_domains, folder, pairs, photos, toys  # noqa: F401  (register datasets)
from . import climate, field_domains  # noqa: F401  (netCDF datasets; xarray is imported only when one is loaded)
from . import gaps  # noqa: F401  (coads-holdout: COADS with held-out observations; mask:coads)
from . import ocean_atlas  # noqa: F401  (World Ocean Atlas monthly temperature: complete fields to pretrain on)
from . import simulators  # noqa: F401  (rayleigh-benard, grf, lognormal: generated from a seed, cached on disk)
from . import audio, music, sequences  # noqa: F401  (chorales, folk, midi-folder, series, chorale-audio; lazy imports)


def parse_spec(spec: str, default_split: str = "train") -> tuple[str, str]:
    """'NAME:SPLIT' -> (NAME, SPLIT); a bare NAME gets `default_split`."""
    name, _, split = spec.partition(":")
    if not name:
        raise GenlabError(f"empty dataset name in {spec!r}; use NAME or NAME:SPLIT (see 'genlab list datasets')")
    return name, (split or default_split)


def load_dataset(spec: str, split: str | None = None, **options: Any) -> ArrayDataset:
    """Load a registered dataset split. Unknown options for that dataset are errors."""
    name, spec_split = parse_spec(spec, split or "train")
    entry = DATASETS.entry(name)
    splits = entry.meta.get("splits")
    if splits and spec_split not in splits:
        raise GenlabError(f"dataset {name!r} has no split {spec_split!r}; choose one of: {', '.join(splits)}")
    accepted = entry.meta.get("options", ())
    given = {k: v for k, v in options.items() if v is not None}
    derive = given.pop("derive", None)
    bad = sorted(set(given) - set(accepted))
    if bad:
        raise GenlabError(f"dataset {name!r} does not take option(s) {', '.join('data.' + b for b in bad)}"
                          f"; it takes: {', '.join('data.' + a for a in accepted) or 'none'}")
    data = entry.obj(spec_split, **given)
    if derive:
        from .derive import with_derived
        data = with_derived(data, str(derive))
    return data


def load_any(spec: str, *, size: int | None = None, channels: int | None = None) -> ArrayDataset:
    """A registered split (`fashion-mnist:test`), an image folder, or a .npy/.npz file."""
    from pathlib import Path

    p = Path(spec)
    if p.is_dir():
        return folder.load_folder(spec, "all", size, channels)
    if p.suffix in (".npy", ".npz"):
        return arrays.load_array(spec, "all")
    if p.exists():
        raise GenlabError(f"{spec!r} is neither an image folder nor a .npy/.npz file")
    if "/" in spec or "\\" in spec:
        raise GenlabError(f"path {spec!r} does not exist")
    return load_dataset(spec)
