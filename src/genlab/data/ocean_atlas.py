"""World Ocean Atlas monthly temperature as complete training fields for gap filling (Kadow et al.'s recipe).

Kadow et al. (2020) train the gap-filling network on *complete* model fields under the masks of real
observation gaps, then apply it to the observations. For COADS sea-surface temperature the packaged complete
fields of the same quantity are the World Ocean Atlas monthly climatology in Debian's ferret-datasets
(`ocean_atlas_subset.nc`, TEMP, 12 months × 19 depths, 2° grid at 20.5°E..378.5°E, 89.5°S..88.5°N; the file
has no units attribute: the values are in °C, written here as COADS writes them, "Deg C"). The upper
levels (0–30 m, the mixed layer) carry the same large-scale structure as the sea surface, so

    x (12·L, 1, 90, 180)   months 1..12 of each level in `data.level` (default 0,10,20,30 m), °C;
                           x_valid = ocean at that depth (land and sea floor are gaps)
    x_months (12·L, 2K, 90, 180), x_months_valid   with data.context=K: months t−K..t−1, t+1..t+K of the
                           same level (cyclic), known where WOA has ocean *and* — with
                           data.context_gaps=VAR (default sst) — where COADS observed VAR in that calendar
                           month (nearest-cell mapping onto this grid, data/gaps.py), so the neighbouring
                           months arrive with the gaps the network will meet in the observations;
                           data.context_gaps=none keeps them complete.

Masks for the month itself come from `data.derive=mask:coads:sst[:EXTRA]` as for any field. Splits: test =
April and October of every level (as `coads`), train = the other months, all = everything (pretraining).
A run trained here starts a COADS run through `model.init_from` (fine-tuning on `coads-holdout`).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from ..registry import DATASETS
from ..fields import FieldSpec, Normalizer
from .base import FieldDataset
from .climate import COADS_TEST_MONTHS, ferret_file
from .gaps import masks_on_grid, neighbour_steps
from .netcdf import SPLITS, load_netcdf

ATLAS_FILE = "ocean_atlas_subset.nc"
DEFAULT_LEVELS = (0, 10, 20, 30)
UNITS = "Deg C"


def _levels(levels) -> tuple[int, ...]:
    if levels is None or levels == "":
        return DEFAULT_LEVELS
    items = levels if isinstance(levels, (list, tuple)) else str(levels).split(",")
    try:
        out = tuple(int(float(v)) for v in items if str(v).strip() != "")
    except ValueError:
        raise GenlabError(f"data.level={levels!r} is not a list of depths in m; e.g. data.level=0,10,20,30") from None
    if not out or len(set(out)) != len(out):
        raise GenlabError(f"data.level={levels!r}: give one or more distinct depths in m, e.g. 0,10,20,30")
    return out


def ocean_atlas_data(split: str, levels=None, context: Optional[int] = None, context_gaps: Optional[str] = None,
                     path: Optional[str] = None) -> FieldDataset:
    """The `ocean-atlas` dataset (module docstring)."""
    if split not in SPLITS:
        raise GenlabError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    depths, k = _levels(levels), int(context or 0)
    if not 0 <= k <= 5:
        raise GenlabError(f"data.context={context} is invalid; give 0..5 neighbouring months on each side (e.g. 1)")
    gaps = (context_gaps or "sst").lower()
    file = ferret_file(ATLAS_FILE, path)
    xs, vs, meta = [], [], None
    for depth in depths:
        try:
            d = load_netcdf(file, "temp", split="all", level=depth, name="ocean-atlas")
        except GenlabError as e:
            raise GenlabError(f"data.level: {e}") from None
        if d.tensors["x"].shape[0] != 12:
            raise GenlabError(f"{file} holds {d.tensors['x'].shape[0]} time steps; ocean-atlas needs 12 months")
        xs.append(d.tensors["x"].numpy())
        vs.append(d.tensors["x_valid"].numpy().astype(bool))
        meta = meta or d.meta
    x, valid = np.stack(xs), np.stack(vs)  # (L, 12, 1, H, W)
    months = np.arange(12)
    pick = {"train": ~np.isin(months, COADS_TEST_MONTHS), "test": np.isin(months, COADS_TEST_MONTHS),
            "all": np.ones(12, bool)}[split]
    train_sel = ~np.isin(months, COADS_TEST_MONTHS)
    values = x[:, train_sel][valid[:, train_sel]].astype(np.float64)
    norm = Normalizer((float(values.mean()),), (float(values.std()),), UNITS)
    stored = np.where(valid, x, np.float32(norm.offset[0])).astype(np.float32)
    h, w = x.shape[-2:]
    periodic = (2,)
    specs = {"x": FieldSpec((1, h, w), "field", normalizer=norm, periodic=periodic, valid="x_valid",
                            channels=("temp",)),
             "x_valid": FieldSpec((1, h, w), "mask", periodic=periodic, channels=("temp",))}
    n_lev = len(depths)
    tensors = {"x": stored[:, pick].reshape(-1, 1, h, w), "x_valid": valid[:, pick].reshape(-1, 1, h, w)}
    out_meta = {**meta, "units": UNITS, "levels_m": list(depths),
                "month": [int(m) + 1 for m in months[pick]] * n_lev,
                "level_of_field": [int(dp) for dp in depths for _ in range(int(pick.sum()))],
                "split_rule": "test = April and October of every level, train = the other months, all = 12 months"}
    if k:
        if gaps == "none":
            obs = np.ones((12, h, w), bool)
        else:
            obs, _ = masks_on_grid(gaps, meta, h, w)  # (12, H, W) COADS observed, on this grid
        nv, nk = [], []
        for li in range(n_lev):
            known = valid[li, :, 0] & obs
            v, kn = neighbour_steps(stored[li, :, 0], known, k, cyclic=True)
            nv.append(np.where(kn, v, np.float32(norm.offset[0])).astype(np.float32)[pick])
            nk.append(kn[pick])
        chans = tuple(f"temp[t{d:+d}]" for d in [*range(-k, 0), *range(1, k + 1)])
        tensors["x_months"] = np.concatenate(nv)
        tensors["x_months_valid"] = np.concatenate(nk)
        specs["x_months"] = FieldSpec((2 * k, h, w), "field", normalizer=norm, periodic=periodic,
                                      valid="x_months_valid", channels=chans)
        specs["x_months_valid"] = FieldSpec((2 * k, h, w), "mask", periodic=periodic, channels=chans)
        out_meta["context"] = {"field": "x_months", "steps": k, "cyclic": True, "period": 12,
                               "gaps": gaps, "rule": f"months t-{k}..t-1, t+1..t+{k} of the same level, cyclic; "
                               + ("complete" if gaps == "none" else f"known where COADS observed {gaps}")}
    out_meta["observed_fraction"] = float(tensors["x_valid"].mean())
    as_t = {name: torch.from_numpy(np.ascontiguousarray(a.astype(np.uint8) if a.dtype == bool else a))
            for name, a in tensors.items()}
    return FieldDataset("ocean-atlas", split, as_t, specs, meta=out_meta)


@DATASETS.register("ocean-atlas", splits=SPLITS, options=("level", "context", "context_gaps", "path"),
                   help="World Ocean Atlas monthly temperature (°C), 12 months x data.level depths (default 0,10,20,30 m), "
                        "90 x 180 (2°), complete but land; data.context=K neighbouring months with COADS gaps "
                        "(data.context_gaps=sst|none); test = Apr, Oct; split all for pretraining")
def ocean_atlas(split: str, level=None, context: Optional[int] = None, context_gaps: Optional[str] = None,
                path: Optional[str] = None):
    return ocean_atlas_data(split, level, context, context_gaps, path)
