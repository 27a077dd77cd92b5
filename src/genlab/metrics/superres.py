"""Evaluation of super-resolution runs (srresnet, srgan) beside the bicubic baseline, on full images.

Protocol (`evaluate_superres`; every choice is written into the result's protocol):
- **Held-out set** (`held_out_set`): for runs on `photos`, the whole held-out right-hand strip of each of
  the 12 photos bundled with scikit-image/scikit-learn (data/photos.py; its 25 %, at least data.size
  columns, of the photo as prepared for the run's data.size), never seen in training: train crops come from
  the columns left of it. Other datasets: the first n examples of the eval split's target field (without
  data.derive, so no random crop). Each image is cut to a multiple of the scale (bottom/right, BasicSR's
  "modcrop").
- **Degradation**: LR = `bicubic_resize(HR, HR/scale)` (nn/superres.py: Keys a = −0.5, antialiased,
  = PIL BICUBIC ≈ MATLAB imresize; the same function as data.derive=lowres), then, for 8-bit images,
  rounded to 8 bits (what a stored LR PNG holds, as in the SR benchmarks).
- **Outputs**: the model's `upscale` and the bicubic baseline (`Bicubic.upscale` = bicubic_resize ×scale)
  run through the same path (apply/tiles.py `stitched`: the whole image, or tiles of `tile` with `overlap`
  pixels of context), then rounded to 8 bits.
- **PSNR / SSIM** (metrics/image_quality.py): on Y = BT.601 studio-swing luma (`to_y`, MATLAB's
  rgb2ycbcr: Y ∈ [16, 235]/255) with `scale` pixels cropped on every side and data range 1 — BasicSR's
  `calculate_psnr(..., crop_border=scale, test_y_channel=True)` — and on RGB with the same crop. Per image,
  then the mean over images (and its standard error). SSIM: Gaussian 11x11, σ 1.5, valid positions.
- **Perceptual** (asked with `metrics`): `fid` = Fréchet distance of Inception pool3 features (the FID
  network) of non-overlapping `patch` x `patch` patches of the outputs vs the same patches of the HR
  images ("patch FID": a few hundred patches, so biased upwards; compare like with like only); `c2st` =
  classifier two-sample test accuracy of output patches vs HR patches (metrics/c2st.py; 0.5 = not told
  apart). Both are given for the model and for bicubic.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import Tensor

from ..errors import GenlabError
from ..nn.superres import bicubic_resize
from . import image_quality as iq

PERCEPTUAL = ("fid", "c2st")
PATCH = 32


class Bicubic:
    """The bicubic baseline with the models' interface: `upscale(x)` (B, C, h, w) -> (B, C, s h, s w)."""

    def __init__(self, scale: int, bounded: bool = True):
        self.scale, self.bounded = scale, bounded

    def upscale(self, x: Tensor) -> Tensor:
        y = bicubic_resize(x, (x.shape[-2] * self.scale, x.shape[-1] * self.scale))
        return y.clamp(0, 1) if self.bounded else y


def modcrop(x: Tensor, scale: int) -> Tensor:
    """(…, H, W) cut at the bottom/right to multiples of `scale`."""
    h, w = x.shape[-2:]
    return x[..., : h - h % scale, : w - w % scale]


def quantise(x: Tensor, levels: Optional[int]) -> Tensor:
    """Round model-space images to `levels` (8-bit: 256) as a saved PNG would; fields pass through."""
    return x if not levels else torch.round(x.clamp(0, 1) * (levels - 1)) / (levels - 1)


def held_out_set(config, spec, *, n: Optional[int] = None, split: Optional[str] = None
                 ) -> tuple[list[tuple[str, Tensor]], str]:
    """([(name, HR (C, H, W) model space)], description) for a run config (see the module docstring;
    `split` replaces the eval split of datasets other than photos)."""
    d, target = config.data, config.model.target
    if d.name == "photos":
        from ..data.photos import DEFAULT_SIZE, HELD_OUT, held_out_photos

        size = int(d.size or DEFAULT_SIZE)
        photos = held_out_photos(size, channels=int(d.channels or 3))
        items = [(name, torch.from_numpy(a).float() / 255.0) for name, a in photos][: n or None]
        return items, (f"photos: the held-out right-hand {HELD_OUT:.0%} strip (at least {size} px) of each bundled "
                       f"photo, prepared for data.size={size}; never in a train crop")
    from ..data import load_dataset

    split = split or d.eval_split
    options = {k: v for k, v in d.options().items() if k != "derive"}
    data = load_dataset(d.name, split, **options)
    if target not in data.info.fields:
        raise GenlabError(f"the {d.name}:{split} split has no field {target!r} to evaluate against")
    m = min(n or 100, len(data))
    b = data.batch(slice(0, m))
    return [(f"{d.name}-{split}-{i:04d}", b[target][i]) for i in range(m)], \
        f"{d.name}:{split}, first {m} examples of field {target!r}"


def quality(out: Tensor, hr: Tensor, scale: int, image: bool) -> dict[str, float]:
    """PSNR/SSIM of one output (1, C, H, W) against its HR image: on Y (images) and on all channels,
    `scale` pixels cropped on every side; data range 1 (images) or the HR's max − min (fields)."""
    o, t = iq.crop_border(out.double(), scale), iq.crop_border(hr.double(), scale)
    if not image:
        rng = float(t.max() - t.min()) or 1.0
        return {"psnr": float(iq.psnr_per_image(o, t, rng)[0]), "ssim": float(iq.ssim_per_image(o, t, rng)[0])}
    oy, ty = iq.to_y(o), iq.to_y(t)
    return {"psnr_y": float(iq.psnr_per_image(oy, ty)[0]), "ssim_y": float(iq.ssim_per_image(oy, ty)[0]),
            "psnr_rgb": float(iq.psnr_per_image(o, t)[0]), "ssim_rgb": float(iq.ssim_per_image(o, t)[0])}


def patches(x: Tensor, size: int) -> Tensor:
    """(1, C, H, W) -> (N, C, size, size) non-overlapping patches (row-major; the remainder is dropped)."""
    c = x.shape[1]
    t = x[0].unfold(1, size, size).unfold(2, size, size)  # (C, nH, nW, size, size)
    return t.permute(1, 2, 0, 3, 4).reshape(-1, c, size, size)  # (nH·nW, C, size, size)


@torch.no_grad()
def evaluate_superres(model, images: Sequence[tuple[str, Tensor]], *, scale: int, spec, metrics: Sequence[str] = (),
                      tile: int = 0, overlap: int = 32, device=torch.device("cpu"), seed: int = 0,
                      patch: int = PATCH, crops_dir: Optional[Path] = None, precision: Optional[str] = None,
                      name: str = "model") -> dict:
    """Metrics of `model` (anything with `upscale`) and of bicubic on HR `images` (module docstring).

    Returns {psnr_y, ssim_y, psnr_rgb, ssim_rgb (+ _se), bicubic_…, gain_psnr_y, gain_ssim_y, per_image,
    [fid, bicubic_fid, c2st, bicubic_c2st], protocol}; fields get psnr/ssim in units of their range.
    crops_dir: also write side-by-side crops (bicubic | model | original) there (see `save_crops`)."""
    from ..apply import tiles

    bad = [m for m in metrics if m not in PERCEPTUAL]
    if bad:
        raise GenlabError(f"super-resolution runs take --metrics {','.join(PERCEPTUAL)} (PSNR/SSIM are always "
                          f"computed); {', '.join(bad)} is not one of them")
    if not images:
        raise GenlabError("no held-out images to evaluate on")
    image = spec.kind == "image"
    levels = spec.levels if image else None
    baseline = Bicubic(scale, bounded=image)
    rows: dict[str, dict] = {}
    outs: dict[str, list[Tensor]] = {"bicubic": [], "model": [], "hr": []}
    t0 = time.perf_counter()
    for key, hr0 in images:
        hr = modcrop(hr0, scale).unsqueeze(0).to(device)  # (1, C, H, W)
        if min(hr.shape[-2:]) < 2 * scale + 3:
            raise GenlabError(f"held-out image {key} ({hr0.shape[-2]}x{hr0.shape[-1]}) is too small for x{scale}")
        lr = quantise(bicubic_resize(hr, (hr.shape[-2] // scale, hr.shape[-1] // scale)), levels)
        row = {}
        for who, m in (("bicubic", baseline), ("model", model)):
            y = quantise(tiles.stitched(m.upscale, lr, 1, tile=tile, context=overlap, scale=scale), levels)
            q = quality(y, hr, scale, image)
            row.update({(k if who == "model" else f"bicubic_{k}"): v for k, v in q.items()})
            outs[who].append(y.cpu())
        outs["hr"].append(hr.cpu())
        rows[key] = row
    seconds = time.perf_counter() - t0
    res: dict = {}
    for k in next(iter(rows.values())):
        s = iq.summary(torch.tensor([r[k] for r in rows.values()]))
        res[k], res[f"{k}_se"] = s["mean"], s["se"]
    main = ("psnr_y", "ssim_y") if image else ("psnr", "ssim")
    for k in main:
        res[f"gain_{k}"] = res[k] - res[f"bicubic_{k}"]
    res["per_image"] = {key: {k: r[k] for k in (*main, *(f"bicubic_{m}" for m in main))} for key, r in rows.items()}
    proto = protocol(scale, len(rows), image, levels, tile, overlap, name)
    if metrics:
        res.update(perceptual(outs, metrics, patch, device, seed, precision, proto))
    proto["time_s"] = round(seconds, 2)  # incidental: not part of the record's identity
    if crops_dir is not None:
        save_crops(outs, list(rows), crops_dir, name)
    res["protocol"] = proto
    return res


def protocol(scale: int, n: int, image: bool, levels, tile: int, overlap: int, name: str) -> dict:
    out = {"task": f"x{scale} super-resolution", "model": name, "n_images": n, "scale": scale,
           "degradation": "bicubic_resize (Keys a=-0.5, antialiased; = PIL BICUBIC) of HR cut to a multiple of "
                          "the scale" + ("; LR rounded to 8 bits" if levels == 256 else ""),
           "baseline": "bicubic_resize x scale through the same tiled path",
           "crop_border": scale, "averaging": "per image, then mean over images",
           "tile": tile, "tile_context": overlap if tile else 0}
    if image:
        out.update(y="ITU-R BT.601 studio-swing Y in [16, 235]/255 (MATLAB rgb2ycbcr, BasicSR test_y_channel)",
                   data_range=1.0, outputs=f"rounded to {levels} levels" if levels else "as computed",
                   ssim="Gaussian 11x11, sigma 1.5, valid positions (Wang et al. 2004)")
    else:
        out.update(data_range="max - min of each HR field (model space)")
    return out


def perceptual(outs: dict[str, list[Tensor]], metrics: Sequence[str], patch: int, device, seed: int,
               precision: Optional[str], proto: dict) -> dict:
    """Patch FID and/or C2ST of model and bicubic patches against HR patches (module docstring)."""
    sets = {k: torch.cat([patches(t, patch) for t in v if min(t.shape[-2:]) >= patch])
            for k, v in outs.items()}
    n = len(sets["hr"])
    if n < 20:
        raise GenlabError(f"only {n} patches of {patch}x{patch} in the held-out images; perceptual metrics need "
                          "at least 20")
    res: dict = {}
    proto.update(patch=patch, n_patches=n)
    if "fid" in metrics:
        from . import functional as F
        from .features import build, extract
        from .quality import precision_of, set_precision

        ext = build("inception", device)
        set_precision(ext, precision)
        feats = {k: extract(ext, [v[i:i + 100] for i in range(0, len(v), 100)])[0] for k, v in sets.items()}
        res["fid"] = F.fid(feats["hr"], feats["model"])
        res["bicubic_fid"] = F.fid(feats["hr"], feats["bicubic"])
        proto.update(fid=f"Frechet distance of {ext.name} features of {n} non-overlapping {patch}px patches "
                         "vs the same HR patches", extractor=ext.name,
                     weights_sha256=ext.protocol().get("weights_sha256"), precision_mode=precision_of(ext))
    if "c2st" in metrics:
        from .c2st import c2st

        for who, key in (("model", "c2st"), ("bicubic", "bicubic_c2st")):
            with torch.enable_grad():  # the classifier trains (evaluate_superres runs under no_grad)
                r = c2st(sets["hr"], sets[who], seed=seed, device=device)
            res[key], res[f"{key}_p_value"] = r["accuracy"], r["p_value"]
        proto.update(c2st=f"5-fold cross-fitted CNN accuracy, output vs HR {patch}px patches (0.5 = indistinguishable)")
    return res


def save_crops(outs: dict[str, list[Tensor]], names: list[str], out_dir: Path, model_name: str, *,
               k: int = 6, side: int = 96) -> Path:
    """out_dir/crops.png: one row per held-out image (first k), columns bicubic | model | original, a
    centred side x side crop (smaller images: their shorter side), with out_dir/index.json captions."""
    from ..viz.grid import save_grid

    s = min(side, *(min(t.shape[-2:]) for t in outs["hr"][:k]))
    tiles_ = []
    for i in range(min(k, len(names))):
        for who in ("bicubic", "model", "hr"):
            t = outs[who][i][0]
            top, left = (t.shape[-2] - s) // 2, (t.shape[-1] - s) // 2
            tiles_.append(t[:, top:top + s, left:left + s].float().clamp(0, 1))
    c = max(t.shape[0] for t in tiles_)
    grid = torch.stack([t.expand(c, -1, -1) for t in tiles_])  # (rows·3, C, s, s)
    path = save_grid(grid, Path(out_dir) / "crops.png", nrow=3, upscale=max(1, 192 // s))
    shown = ", ".join(names[: min(k, len(names))])
    index = {"crops.png": {"caption": f"held-out crops ({shown}): bicubic | {model_name} | original",
                           "command": "genlab eval RUN"}}
    (Path(out_dir) / "index.json").write_text(json.dumps(index, indent=1))
    return path


def evaluate_run(r, metrics: Sequence[str] = (), *, n: Optional[int] = None, device=torch.device("cpu"),
                 seed: int = 0, precision: Optional[str] = None, crops_dir: Optional[Path] = None,
                 tile: int = 0, overlap: int = 32, split: Optional[str] = None) -> dict:
    """`genlab eval RUN` for a super-resolution run (a runs.LoadedRun): the held-out set, then
    `evaluate_superres` with the run's scale."""
    cfg = r.config
    spec = r.info.fields[cfg.model.target]
    images, source = held_out_set(cfg, spec, n=n, split=split)
    r.model.eval()
    res = evaluate_superres(r.model, images, scale=cfg.model.scale, spec=spec, metrics=metrics, tile=tile,
                            overlap=overlap, device=device, seed=seed, crops_dir=crops_dir, precision=precision,
                            name=cfg.model_name)
    res["protocol"] = {"held_out": source, **res["protocol"]}
    return res


__all__ = ["Bicubic", "evaluate_superres", "evaluate_run", "held_out_set", "quality", "modcrop"]
