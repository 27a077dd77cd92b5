"""Real observation gaps: COADS missingness as a derived mask, and COADS with held-out observations.

Kadow et al. (2020) train a partial-convolution U-Net on complete fields with the masks of real observation
gaps (HadCRUT4's missing cells) and evaluate it on the observations. genlab's two pieces of that recipe:

`data.derive=mask:coads[:VAR[:EXTRA]]` (`coads_mask_derivation`): the field `mask` (1, H, W), 1 = known,
    drawn per example from the run's generator: the observed cells M_k of a uniformly drawn COADS month k
    (variable VAR, default sst; all 12 months — only where ships reported, never a value), mapped to the
    training grid by nearest neighbour (longitude periodic; training cells beyond half a COADS cell from
    any COADS cell are unobserved), AND the training field's own validity (land, gaps: `spec.valid`),
    AND NOT an extra random share EXTRA (default 0) of hidden cells: half of it as scattered cells
    (Bernoulli(EXTRA/2) each), half as blocks of about 10° × 10° (a coarse Bernoulli(EXTRA/2) grid of
    B × B cells with a random offset). A field smaller than the data's grid (tiles, crops) gets a random
    window of the mapped masks (periodic in longitude).

    known = valid ∧ R(M_k) ∧ ¬scatter ∧ ¬blocks

`coads-holdout` (dataset): the 12 COADS months of `data.var` (default sst, Deg C) with a fixed, seeded
    evaluation set removed (`holdout_sets`): per month, a share FRACTION = 10 % of the observed cells in
    contiguous blocks of 5 × 5 cells (10° × 10°), and another 10 % as scattered cells, disjoint. `train`
    holds every other observation (the held-out values are not stored: they become gaps, `x_valid` = 0);
    `test` holds every observation. `data.seed` (default 0) draws the sets; genlab eval recomputes them
    from the run's seed, so a model trained on `train` never saw the values it is scored on.
    `data.context=K` (default 0) adds the field `x_months` (2K, H, W): months t−K..t−1, t+1..t+K of the
    same split (cyclic: the climatology's December neighbours January), with their own validity mask
    `x_months_valid` — the information a spatial interpolator never uses (the inpaint model reads it with
    `model.context_field=x_months`). It only ever holds the split's values, so `train` still lacks every
    held-out cell of every month.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..errors import GenlabError
from ..fields import FieldSpec, Normalizer
from ..registry import DATASETS
from .base import Derivation, FieldDataset

COADS_FILE = "coads_climatology.cdf"
COADS_VARS = ("sst", "airt", "speh", "wspd", "uwnd", "vwnd", "slp")  # every one has gaps
FRACTION = 0.1  # share of a month's observed cells held out, once in blocks and once scattered
BLOCK = 5  # block side in COADS cells (2° each)
BLOCK_DEGREES = 10.0  # the side of the extra hidden blocks of mask:coads, in degrees


# --- the COADS observation masks -------------------------------------------------------------------------

@lru_cache(maxsize=8)
def coads_observed(var: str = "sst", path: Optional[str] = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(observed (12, 90, 180) bool, lat (90,), lon (180,), units) of COADS variable `var`, Jan..Dec."""
    from .climate import ferret_file
    from .netcdf import load_netcdf

    if var not in COADS_VARS:
        raise GenlabError(f"mask:coads:{var}: COADS has no variable {var!r}; use one of {', '.join(COADS_VARS)} "
                          "(e.g. mask:coads:sst)")
    ds = load_netcdf(ferret_file(COADS_FILE, path), var, split="all", name="coads")
    obs = ds.tensors["x_valid"][:, 0].numpy().astype(bool)
    c = ds.meta["coords"]
    return obs, np.asarray(c["lat"]["values"]), np.asarray(c["lon"]["values"]), ds.meta["units"]


def nearest_index(src: np.ndarray, dst: np.ndarray, *, periodic: bool = False) -> np.ndarray:
    """For every coordinate of `dst`, the index of the nearest one of `src` (degrees; periodic: mod 360),
    or −1 where the nearest is more than half a `src` spacing away (outside src's coverage)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    d = dst[:, None] - src[None, :]  # (len(dst), len(src))
    if periodic:
        d = (d + 180.0) % 360.0 - 180.0
    i = np.abs(d).argmin(1)
    spacing = float(np.median(np.abs(np.diff(src)))) if len(src) > 1 else 360.0
    far = np.abs(d[np.arange(len(dst)), i]) > 0.5 * spacing + 1e-6
    return np.where(far, -1, i)


def regrid_mask(mask: np.ndarray, src_lat, src_lon, dst_lat, dst_lon) -> np.ndarray:
    """(..., h, w) bool on (src_lat, src_lon) -> (..., H, W) bool on (dst_lat, dst_lon), nearest neighbour,
    longitude periodic; destination cells outside the source's coverage are False (unobserved)."""
    rows = nearest_index(src_lat, dst_lat)
    cols = nearest_index(np.mod(src_lon, 360.0), np.mod(dst_lon, 360.0), periodic=True)
    out = mask[..., np.maximum(rows, 0)[:, None], np.maximum(cols, 0)[None, :]]  # (..., H, W)
    return out & (rows >= 0)[:, None] & (cols >= 0)[None, :]


def _grid(meta: dict, h: int, w: int) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    c = (meta or {}).get("coords") or {}
    lat, lon = (c.get("lat") or {}).get("values"), (c.get("lon") or {}).get("values")
    return (None, None) if lat is None or lon is None else (np.asarray(lat, float), np.asarray(lon, float))


def masks_on_grid(var: str, meta: dict, h: int, w: int) -> tuple[np.ndarray, float]:
    """The 12 COADS observation masks on the data's grid (its coordinates in meta), and the grid spacing
    in degrees. Data without coordinates use COADS's own 2° grid."""
    obs, clat, clon, _ = coads_observed(var)
    lat, lon = _grid(meta, h, w)
    if lat is None:
        return obs, 2.0
    spacing = float(np.median(np.abs(np.diff(lat)))) if len(lat) > 1 else 2.0
    return regrid_mask(obs, clat, clon, lat, lon), spacing


# --- the derived mask --------------------------------------------------------------------------------------

def _windows(base: Tensor, k: Tensor, h: int, w: int, g, device) -> Tensor:
    """(n, 1, h, w) windows of the masks base[k] (K, Hb, Wb): whole when the sizes agree, else at random
    positions from g (rows inside, columns wrapping around)."""
    n, (hb, wb) = len(k), base.shape[1:]
    m = base[k]  # (n, Hb, Wb)
    if (hb, wb) == (h, w):
        return m.unsqueeze(1).float()
    top = (torch.rand(n, generator=g, device=device) * (hb - h + 1)).long().clamp(max=hb - h)
    left = (torch.rand(n, generator=g, device=device) * wb).long().clamp(max=wb - 1)
    rows = (top.view(n, 1) + torch.arange(h, device=device)).view(n, h, 1).expand(n, h, wb)
    m = m.gather(1, rows)  # (n, h, Wb)
    cols = ((left.view(n, 1) + torch.arange(w, device=device)) % wb).view(n, 1, w).expand(n, h, w)
    return m.gather(2, cols).unsqueeze(1).float()  # (n, 1, h, w)


def extra_hidden(n: int, h: int, w: int, share: float, block: int, g, device) -> Tensor:
    """(n, 1, h, w) float, 1 = hidden: Bernoulli(share/2) cells plus blocks of block × block cells, each
    coarse block hidden with probability share/2, the coarse grid shifted by a random offset."""
    scatter = torch.rand(n, 1, h, w, generator=g, device=device) < share / 2
    nh, nw = h // block + 2, w // block + 2
    coarse = torch.rand(n, 1, nh, nw, generator=g, device=device) < share / 2
    fine = coarse.repeat_interleave(block, 2).repeat_interleave(block, 3)  # (n, 1, nh·B, nw·B)
    off = (torch.rand(2, generator=g, device=device) * block).long().clamp(max=block - 1)
    fine = fine[..., int(off[0]):int(off[0]) + h, int(off[1]):int(off[1]) + w]
    return (scatter | fine).float()


def coads_mask_derivation(primary: str, spec: FieldSpec, meta: dict, var: str = "sst",
                          extra: float | str = 0.0) -> Derivation:
    """`mask:coads[:VAR[:EXTRA]]` (see the module docstring) for the (C, H, W) field `primary`."""
    try:
        share = float(extra)
    except ValueError:
        raise GenlabError(f"data.derive mask:coads:{var}:{extra} has a bad share; give a number in [0, 1), "
                          "e.g. mask:coads:sst:0.2") from None
    if not 0.0 <= share < 1.0:
        raise GenlabError(f"data.derive mask:coads:{var}:{extra}: the extra hidden share must be in [0, 1)")
    _, h, w = spec.shape
    obs, spacing = masks_on_grid(var.lower(), meta, h, w)
    hb, wb = obs.shape[1:]
    if h > hb or w > wb:
        raise GenlabError(f"mask:coads: the field is {h}x{w} but the data's grid is {hb}x{wb}; the COADS masks "
                          "can only be cut to fields up to the grid's size")
    base = torch.from_numpy(obs)
    block = max(1, int(round(BLOCK_DEGREES / spacing)))
    valid = spec.valid

    def fn(fields, g):
        x = fields[primary]
        n, dev = len(x), x.device
        k = (torch.rand(n, generator=g, device=dev) * len(base)).long().clamp(max=len(base) - 1)
        known = _windows(base.to(dev), k, h, w, g, dev)  # (n, 1, h, w)
        if valid is not None and valid in fields:
            known = known * (fields[valid].amin(1, keepdim=True) > 0.5).float()
        if share > 0:
            known = known * (1.0 - extra_hidden(n, h, w, share, block, g, dev))
        return {"mask": known}
    return Derivation(f"mask:coads:{var}:{share:g}", fn, {"mask": FieldSpec((1, h, w), "mask")})


# --- held-out observations ---------------------------------------------------------------------------------

def _blocks(obs: np.ndarray, target: int, block: int, rng: np.random.Generator, periodic: bool) -> np.ndarray:
    """Observed cells of one (H, W) month in block × block squares centred on randomly ordered observed
    cells, added until at least `target` cells are hidden (longitude wraps when periodic)."""
    h, w = obs.shape
    hidden = np.zeros_like(obs)
    r = block // 2
    for c in rng.permutation(np.flatnonzero(obs)):
        if hidden.sum() >= target:
            break
        i, j = divmod(int(c), w)
        if hidden[i, j]:
            continue
        rows = np.arange(max(0, i - r), min(h, i - r + block))
        cols = np.arange(j - r, j - r + block)
        cols = cols % w if periodic else cols[(cols >= 0) & (cols < w)]
        box = np.zeros_like(obs)
        box[np.ix_(rows, cols)] = True
        hidden |= box & obs
    return hidden


def holdout_sets(observed: np.ndarray, *, fraction: float = FRACTION, block: int = BLOCK, seed: int = 0,
                 periodic: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(scattered, blocks), each (T, H, W) bool: per month t (its own generator seeded (seed, t)), blocks of
    block × block observed cells totalling ≥ fraction of the month's observations, then a uniform sample of
    round(fraction · n_obs) of the remaining observed cells. The two sets are disjoint and inside `observed`."""
    obs = np.asarray(observed, bool)
    points, blocks = np.zeros_like(obs), np.zeros_like(obs)
    for t in range(len(obs)):
        rng = np.random.default_rng([int(seed), t])
        target = int(round(fraction * obs[t].sum()))
        blocks[t] = _blocks(obs[t], target, block, rng, periodic)
        rest = np.flatnonzero(obs[t] & ~blocks[t])
        pick = rng.choice(rest, size=min(target, len(rest)), replace=False)
        points[t].flat[pick] = True
    return points, blocks


def neighbour_steps(values: np.ndarray, known: np.ndarray, k: int, *, cyclic: bool) -> tuple[np.ndarray, np.ndarray]:
    """For (T, H, W) fields, the (T, 2k, H, W) values and known masks of steps t−k..t−1, t+1..t+k of each t
    (wrapping around when cyclic; beyond the ends otherwise: unknown, value 0)."""
    t = len(values)
    out_v = np.zeros((t, 2 * k) + values.shape[1:], values.dtype)
    out_k = np.zeros((t, 2 * k) + values.shape[1:], bool)
    offsets = [*range(-k, 0), *range(1, k + 1)]
    for c, d in enumerate(offsets):
        src = np.arange(t) + d
        ok = np.ones(t, bool) if cyclic else (src >= 0) & (src < t)
        src = src % t
        out_v[ok, c] = values[src[ok]]
        out_k[ok, c] = known[src[ok]]
    return out_v, out_k


def coads_holdout_data(split: str, var: Optional[str] = None, seed: Optional[int] = None,
                       path: Optional[str] = None, context: Optional[int] = None) -> FieldDataset:
    """The `coads-holdout` dataset (module docstring): x (12, 1, 90, 180) in the file's units, x_valid
    [, x_months (12, 2K, 90, 180), x_months_valid]."""
    from .climate import ferret_file
    from .netcdf import load_netcdf

    var, seed, k = (var or "sst"), int(seed or 0), int(context or 0)
    if not 0 <= k <= 5:
        raise GenlabError(f"data.context={context} is invalid; give 0..5 neighbouring months on each side (e.g. 1)")
    full = load_netcdf(ferret_file(COADS_FILE, path), var, split="all", name="coads-holdout")
    if "x_valid" not in full.tensors:
        raise GenlabError(f"COADS {var} has no gaps, so there is nothing to hold out; choose sst, airt, ...")
    if full.tensors["x"].shape[1] != 1:
        raise GenlabError(f"coads-holdout takes one variable, not {var!r}")
    x, obs = full.tensors["x"].numpy(), full.tensors["x_valid"].numpy().astype(bool)  # (12, 1, 90, 180)
    points, blocks = holdout_sets(obs[:, 0], seed=seed, periodic=bool(full.specs["x"].periodic))
    train_valid = obs & ~(points | blocks)[:, None]
    valid = train_valid if split == "train" else obs
    values = x[train_valid].astype(np.float64)
    spec = full.specs["x"]
    norm = Normalizer((float(values.mean()),), (float(values.std()),), spec.normalizer.units)
    stored = np.where(valid, x, np.float32(norm.offset[0])).astype(np.float32)  # held-out values are not kept
    specs = {"x": FieldSpec(spec.shape, "field", normalizer=norm, periodic=spec.periodic, valid="x_valid",
                            channels=spec.channels), "x_valid": full.specs["x_valid"]}
    n_obs = obs.sum()
    meta = {**full.meta, "observed_fraction": float(valid.mean()), "month": list(range(1, 13)),
            "holdout": {"seed": seed, "fraction": FRACTION, "block": BLOCK, "points": int(points.sum()),
                        "blocks": int(blocks.sum()), "observed": int(n_obs)},
            "split_rule": f"all 12 months; train = every observation except a held-out {FRACTION:.0%} in "
                          f"{BLOCK}x{BLOCK}-cell blocks and {FRACTION:.0%} scattered (seed {seed}); test = every "
                          "observation (the held-out cells are scored by genlab eval)"}
    tensors = {"x": torch.from_numpy(stored), "x_valid": torch.from_numpy(valid.astype(np.uint8))}
    if k:
        nv, nk = neighbour_steps(stored[:, 0], valid[:, 0], k, cyclic=True)
        nv = np.where(nk, nv, np.float32(norm.offset[0])).astype(np.float32)
        tensors.update(x_months=torch.from_numpy(nv), x_months_valid=torch.from_numpy(nk.astype(np.uint8)))
        chans = tuple(f"{var}[t{d:+d}]" for d in [*range(-k, 0), *range(1, k + 1)])
        specs["x_months"] = FieldSpec((2 * k,) + spec.shape[1:], "field", normalizer=norm, periodic=spec.periodic,
                                      valid="x_months_valid", channels=chans)
        specs["x_months_valid"] = FieldSpec((2 * k,) + spec.shape[1:], "mask", periodic=spec.periodic, channels=chans)
        meta["context"] = {"field": "x_months", "steps": k, "cyclic": True, "period": 12,
                           "rule": f"months t-{k}..t-1, t+1..t+{k} of the same split, cyclic"}
    return FieldDataset("coads-holdout", split, tensors, specs, meta=meta)


@DATASETS.register("coads-holdout", splits=("train", "test"), options=("var", "seed", "path", "context"),
                   help="COADS 12 months with a seeded 10 % of observations held out in 10° blocks and 10 % "
                        "scattered (removed from train, scored by genlab eval); data.var (sst), data.seed (0), "
                        "data.context=K: neighbouring months as x_months")
def coads_holdout(split: str, var: Optional[str] = None, seed: Optional[int] = None, path: Optional[str] = None,
                  context: Optional[int] = None):
    return coads_holdout_data(split, var, seed, path, context)


