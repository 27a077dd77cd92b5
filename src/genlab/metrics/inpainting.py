"""Evaluation of inpainting runs by hole-ratio bin, beside the biharmonic baseline run by the same code.

Protocol (`evaluate_inpainting`; every choice is written into the result's protocol):
- **Images**: the first n examples of the run's eval split of its target field, without data.derive (no random
  crop, no training mask); for `photos` these are crops of the held-out strips (data/photos.py), never trained
  on. Where the field has observational gaps, its validity mask limits every region below to observed values.
- **Masks**: the fixed seeded set of data/masks.py (`evaluation_masks`: the paper's six bins (0.01, 0.1] …
  (0.5, 0.6], n masks per bin, rejection-sampled unions of data/derive.py's box and stroke masks), mask i of a
  bin on image i; or user masks (`masks=`), each on every image, binned by their own hole ratio.
- **Outputs**: I_out = `infill(x, m)` (model space), I_comp = I_out ⊙ (1 − m) + x ⊙ m. The baseline has the
  same interface: `Biharmonic.infill` = skimage.restoration.inpaint_biharmonic per image (channel_axis for
  several channels; a mask of one channel per channel inpaints each channel alone).
- **Regions**: hole = elements with m = 0, known = m = 1 (each limited to observed values). Metrics per image,
  then the mean over the images of the bin:
    hole_l1    = Σ_hole |I_comp − x| / #hole                     (mean absolute error per hole element)
    hole_psnr  = 10 log10(L² / MSE_hole)                         (torchmetrics PSNR of the hole elements)
    hole_ssim  = mean of the SSIM map of I_comp vs x over hole elements
    valid_psnr = PSNR of I_out vs x over known elements           (how the raw output keeps the known pixels;
                                                                   the biharmonic output keeps them: capped at 100)
    comp_psnr, comp_ssim = PSNR and mean SSIM map of I_comp vs x over the whole image
  L (data range) = 1 for images (model space [0, 1]); for physical fields, max − min of the evaluation images
  in model space (stated in the protocol). PSNR of an exact match is capped at 100 dB.
  SSIM map: torchmetrics' `structural_similarity_index_measure(gaussian_kernel=True, sigma=1.5,
  return_full_image=True)`: Gaussian 11 x 11 window, K1 0.01, K2 0.03, the image reflect-padded by 5 so the map
  has a value at every pixel (its scalar SSIM is the mean of that map; skimage and metrics/image_quality.py
  average only the positions where the window fits).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from ..data.masks import BINS, bin_index, bin_label, evaluation_masks, hole_ratio
from ..errors import GenlabError

PSNR_CAP = 100.0
METRICS = ("hole_l1", "hole_psnr", "hole_ssim", "valid_psnr", "comp_psnr", "comp_ssim")


class Biharmonic:
    """The biharmonic baseline with the models' interface: `infill(x (N, C, H, W), mask (N, 1|C, H, W))`."""

    name = "biharmonic"

    def infill(self, x: Tensor, mask: Tensor) -> Tensor:
        from ..nn.fill import biharmonic_fill

        return biharmonic_fill(x, mask)


def ssim_map(a: Tensor, b: Tensor, data_range: float) -> Tensor:
    """(N, C, H, W) SSIM map of a vs b (module docstring: torchmetrics, reflect-padded, Gaussian σ 1.5), computed
    in float32."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    # float32: torch's float64 convolutions are ~10x slower on CPU and SSIM needs no more than 1e-6
    _, full = structural_similarity_index_measure(a.float(), b.float(), gaussian_kernel=True, sigma=1.5,
                                                  data_range=data_range, reduction="none", return_full_image=True)
    return full.double()


def _psnr(a: Tensor, b: Tensor, data_range: float) -> float:
    from torchmetrics.functional.image import peak_signal_noise_ratio

    if a.numel() == 0:
        return float("nan")
    if torch.equal(a, b):
        return PSNR_CAP
    return min(PSNR_CAP, float(peak_signal_noise_ratio(a, b, data_range=data_range)))


def pair_metrics(out: Tensor, gt: Tensor, mask: Tensor, data_range: float,
                 valid: Optional[Tensor] = None) -> dict[str, list[float]]:
    """Per-image METRICS of raw outputs `out` against `gt` (N, C, H, W) for masks (N, 1|C, H, W), 1 = known;
    `valid` (N, 1|C, H, W) limits every region to observed truth (module docstring)."""
    out, gt = out.double().cpu(), gt.double().cpu()
    m = mask.double().cpu().expand_as(gt)
    v = torch.ones_like(gt) if valid is None else valid.double().cpu().expand_as(gt)
    comp = out * (1 - m) + gt * m
    smap = ssim_map(comp, gt, data_range)
    res: dict[str, list[float]] = {k: [] for k in METRICS}
    for i in range(len(gt)):
        hole, known, seen = (1 - m[i]) * v[i] > 0, m[i] * v[i] > 0, v[i] > 0
        err = (comp[i] - gt[i]).abs()
        res["hole_l1"].append(float(err[hole].mean()) if hole.any() else float("nan"))
        res["hole_psnr"].append(_psnr(comp[i][hole], gt[i][hole], data_range))
        res["hole_ssim"].append(float(smap[i][hole].mean()) if hole.any() else float("nan"))
        res["valid_psnr"].append(_psnr(out[i][known], gt[i][known], data_range))
        res["comp_psnr"].append(_psnr(comp[i][seen], gt[i][seen], data_range))
        res["comp_ssim"].append(float(smap[i][seen].mean()))
    return res


def _mean(values: list[float]) -> float:
    a = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")


@torch.no_grad()
def _infill(method, x: Tensor, m: Tensor, device, batch: int) -> Tensor:
    outs = [method.infill(x[i:i + batch].to(device), m[i:i + batch].to(device)).float().cpu()
            for i in range(0, len(x), batch)]
    return torch.cat(outs)


def user_bins(masks: Sequence[Tensor], n_images: int) -> list[tuple[tuple[float, float], Tensor, Tensor]]:
    """Each user mask (1|C, H, W) on images 0 … n_images − 1, grouped into BINS by its hole ratio:
    [(bin, masks (k, 1|C, H, W), image indices (k,))]; masks outside every bin are refused."""
    groups: dict[int, list[Tensor]] = {}
    for mk in masks:
        r = float(hole_ratio(mk[None])[0])
        i = bin_index(r)
        if i < 0:
            raise GenlabError(f"a user mask has hole ratio {r:.3f}, outside the bins (0.01, 0.6]; give masks "
                              "with 1 % to 60 % holes")
        groups.setdefault(i, []).append(mk)
    out = []
    for i in sorted(groups):
        ms = torch.stack(groups[i])  # (k, 1|C, H, W)
        reps = ms.repeat_interleave(n_images, 0)  # every mask on every image
        out.append((BINS[i], reps, torch.arange(len(reps)) % n_images))
    return out


def evaluate_inpainting(model, images: Tensor, *, masks_per_bin: Optional[Sequence[Tensor]] = None,
                        user_masks: Optional[Sequence[Tensor]] = None, valid: Optional[Tensor] = None,
                        image: bool = True, seed: int = 0, device=torch.device("cpu"), batch: int = 32,
                        baselines: Sequence = (Biharmonic(),), name: str = "model",
                        figure_dir: Optional[Path] = None) -> dict:
    """Per-bin METRICS of `model` (anything with `infill`) and of each baseline on `images` (N, C, H, W) in
    model space (module docstring). Returns {"bins": {label: {n, hole_ratio, metric, <baseline>_metric,
    gain_hole_psnr}}, overall means, "protocol"}."""
    n, _, h, w = images.shape
    data_range = 1.0 if image else float(images.max() - images.min()) or 1.0
    if user_masks:
        sets = user_bins(user_masks, n)
        how = f"{len(user_masks)} user mask(s), each on every image, binned by hole ratio"
    else:
        masks_per_bin = masks_per_bin if masks_per_bin is not None else evaluation_masks(h, w, n, seed=seed)
        sets = [(b, ms, torch.arange(len(ms)) % n) for b, ms in zip(BINS, masks_per_bin)]
        how = (f"data/masks.py evaluation_masks({h}, {w}, {len(masks_per_bin[0])}, seed={seed}): unions of 1-6 "
               "mixed box/stroke masks rejection-sampled into the bins; mask i on image i")
    methods = [(name, model), *((b.name, b) for b in baselines)]
    bins: dict[str, dict] = {}
    every: dict[str, dict[str, list[float]]] = {who: {k: [] for k in METRICS} for who, _ in methods}
    shown = []
    for b, ms, idx in sets:
        x, v = images[idx], None if valid is None else valid[idx]
        m_eff = ms if v is None else ms * v  # unobserved truth is unknown to every method too
        row: dict = {"n": len(ms), "hole_ratio": float(hole_ratio(ms).mean())}
        outs = {}
        for who, method in methods:
            outs[who] = _infill(method, x, m_eff, device, batch)
            per = pair_metrics(outs[who], x, m_eff, data_range, v)
            for k in METRICS:
                row[k if who == name else f"{who}_{k}"] = _mean(per[k])
                every[who][k] += per[k]
        for who, _ in methods[1:]:
            row[f"gain_hole_psnr_vs_{who}"] = row["hole_psnr"] - row[f"{who}_hole_psnr"]
        bins[bin_label(b)] = row
        j = len(shown) % len(x)  # a different image per bin
        shown.append((bin_label(b), x[j:j + 1], m_eff[j:j + 1], {k: o[j:j + 1] for k, o in outs.items()}))
    res: dict = {"bins": bins}
    for who, _ in methods:
        for k in METRICS:
            res[k if who == name else f"{who}_{k}"] = _mean(every[who][k])
    res["protocol"] = {"task": "inpainting by hole-ratio bin", "model": name, "n_images": n, "size": f"{h}x{w}",
                       "masks": how, "mask_seed": seed, "bins": ",".join(bin_label(b) for b, _, _ in sets),
                       "baselines": ",".join(b.name for b in baselines) + " (skimage.restoration.inpaint_biharmonic)",
                       "data_range": data_range if not image else 1.0,
                       "regions": "hole = mask 0, known = mask 1 (observed truth only); per image, mean over images",
                       "ssim": "torchmetrics SSIM map, Gaussian 11x11 sigma 1.5, reflect-padded, mean over the region",
                       "psnr": f"torchmetrics PSNR over the region's elements, capped at {PSNR_CAP:g} dB"}
    if figure_dir is not None:
        save_examples(shown, Path(figure_dir), [who for who, _ in methods], image, name)
    return res


def save_examples(shown: list, out_dir: Path, who: list[str], image: bool, name: str) -> Path:
    """out_dir/examples.png: one row per bin (its pair number = the bin's index): input with holes | each
    method's composite | original; fields are drawn in grey with one range (min to max of the originals);
    holes are white."""
    from ..viz.grid import save_grid

    gts = torch.cat([x for _, x, _, _ in shown])
    lo, hi = (0.0, 1.0) if image else (float(gts.min()), float(gts.max()))
    scale = (lambda t: t) if image else (lambda t: (t - lo) / max(hi - lo, 1e-12))  # noqa: E731
    tiles = []
    for _, x, m, outs in shown:
        me = m.expand_as(x)
        tiles.append(scale(x) * me + (1 - me))  # holes drawn white
        tiles += [scale(outs[k] * (1 - me) + x * me) for k in who]
        tiles.append(scale(x))
    grid = torch.cat(tiles).clamp(0, 1)
    c = grid.shape[1]
    grid = grid if c in (1, 3) else grid[:, :1]
    path = save_grid(grid, Path(out_dir) / "examples.png", nrow=len(who) + 2)
    labels = ", ".join(lab for lab, *_ in shown)
    index = {"examples.png": {"caption": f"one example per hole-ratio bin ({labels}), rows top to bottom: input "
                                         f"(holes white) | {' | '.join(who)} (composites) | original",
                              "command": "genlab eval RUN"}}
    (Path(out_dir) / "index.json").write_text(json.dumps(index, indent=1))
    return path


def evaluation_images(config, *, n: Optional[int] = None, split: Optional[str] = None
                      ) -> tuple[Tensor, Optional[Tensor], str]:
    """(images (N, C, H, W), validity (N, 1|C, H, W) or None, description) of a run config's eval split."""
    from ..data import load_dataset

    d, target = config.data, config.model.target
    split = split or d.eval_split
    options = {k: v for k, v in d.options().items() if k != "derive"}
    data = load_dataset(d.name, split, **options)
    if target not in data.info.fields:
        raise GenlabError(f"the {d.name}:{split} split has no field {target!r} to evaluate against")
    m = min(n or 100, len(data))
    b = data.batch(slice(0, m))
    spec = data.info.fields[target]
    valid = b[spec.valid] if spec.valid and spec.valid in b.fields else None
    return b[target].float(), valid, f"{d.name}:{split}, first {m} examples of field {target!r} (no data.derive)"


def evaluate_run(r, *, n: Optional[int] = None, seed: int = 0, device=torch.device("cpu"), split: Optional[str] = None,
                 figure_dir: Optional[Path] = None, masks: Optional[str] = None) -> dict:
    """`genlab eval RUN` for an inpainting run (a runs.LoadedRun): its eval images, the seeded mask set (or
    the user masks of `masks`, a file or a folder), then `evaluate_inpainting`."""
    cfg = r.config
    spec = r.info.fields[cfg.model.target]
    images, valid, source = evaluation_images(cfg, n=n, split=split)
    user = read_user_masks(masks, tuple(images.shape[-2:])) if masks else None
    r.model.eval()
    res = evaluate_inpainting(r.model, images, user_masks=user, valid=valid, image=spec.kind == "image", seed=seed,
                              device=device, name=cfg.model_name, figure_dir=figure_dir)
    res["protocol"] = {"images": source, **res["protocol"]}
    return res


def read_user_masks(path: str, shape: tuple[int, int]) -> list[Tensor]:
    """Masks from a file or every mask file of a folder (.png/.jpg/… white = known, .npy 0/1), of size `shape`."""
    from ..data.masks import read_mask

    p = Path(path)
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in
                   (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".npy")) if p.is_dir() else [p]
    if not files:
        raise GenlabError(f"--masks folder {path!r} holds no .png/.npy masks")
    return [read_mask(f, shape) for f in files]


def table_lines(res: dict, baseline: str = "biharmonic") -> list[str]:
    """The by-bin table of a result (model vs `baseline`: hole L1, hole PSNR, hole SSIM, composite PSNR) as
    Markdown lines, then the means over every pair."""
    b = baseline
    head = (f"| hole ratio | n | mean ratio | hole L1 model / {b} | hole PSNR model / {b} | hole SSIM model / {b} "
            f"| comp. PSNR model / {b} |")
    lines = [head, "|---|---|---|---|---|---|---|"]
    rows = list(res["bins"].items()) + [("all", {**res, "n": sum(v["n"] for v in res["bins"].values()),
                                                 "hole_ratio": float("nan")})]
    for label, v in rows:
        pairs = [(v["hole_l1"], v[f"{b}_hole_l1"], ".4f"), (v["hole_psnr"], v[f"{b}_hole_psnr"], ".2f"),
                 (v["hole_ssim"], v[f"{b}_hole_ssim"], ".3f"), (v["comp_psnr"], v[f"{b}_comp_psnr"], ".2f")]
        ratio = "" if v["hole_ratio"] != v["hole_ratio"] else f"{v['hole_ratio']:.3f}"
        cells = " | ".join(f"{m:{f}} / {o:{f}}" for m, o, f in pairs)
        lines.append(f"| {label} | {v['n']} | {ratio} | {cells} |")
    return lines


__all__ = ["Biharmonic", "evaluate_inpainting", "evaluate_run", "pair_metrics", "ssim_map", "table_lines"]
