"""Evaluation of denoising runs beside classical baselines run by the same code.

Protocol (`evaluate_denoising`; every choice is written into the result's protocol):
- **Images**: the first n examples of the run's eval split (data.derive without crops); the noisy inputs are the
  run's own noise derivation (data/derive.py noise:gaussian:σ | poisson:peak | saltpepper:p) drawn from a
  generator seeded with `seed`, so every evaluation sees the same noise.
- **Methods**, each a `denoise(y)` on model-space inputs: the model; `noisy` (the input itself: the floor
  every method must beat); `gaussian` (scipy.ndimage.gaussian_filter per channel, σ ∈ {0.5, 1, 1.5, 2} px);
  `median` (scipy.ndimage.median_filter per channel, 3 x 3 or 5 x 5); `tv` (skimage.restoration.
  denoise_tv_chambolle, weight ∈ {0.02, 0.05, 0.1, 0.2} × the data range, channel_axis for several channels).
  Each baseline's parameter is the best of its grid on this very set by mean PSNR (oracle-tuned: an upper bound
  of what that baseline can do; the chosen value is recorded).
- **Metrics** per image, then the mean: PSNR (torchmetrics, over all elements, capped at 100 dB) and SSIM
  (torchmetrics, Gaussian 11 x 11, σ 1.5, reflect-padded map, its mean), on outputs clamped to [0, 1] for
  images; data range L = 1 for images, max − min of the clean set (model space) for physical fields.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..errors import GenlabError
from .inpainting import PSNR_CAP, ssim_map

GAUSSIAN_SIGMAS = (0.5, 1.0, 1.5, 2.0)
MEDIAN_SIZES = (3, 5)
TV_WEIGHTS = (0.02, 0.05, 0.1, 0.2)


class Filter:
    """A classical denoiser `denoise(y (N, C, H, W))` with one parameter (per channel and image on NumPy)."""

    def __init__(self, name: str, param: float, data_range: float = 1.0):
        self.name, self.param, self.data_range = name, param, data_range

    def _one(self, a: np.ndarray) -> np.ndarray:  # (C, H, W) float64
        from scipy import ndimage

        if self.name == "gaussian":
            return np.stack([ndimage.gaussian_filter(c, self.param, mode="reflect") for c in a])
        if self.name == "median":
            return np.stack([ndimage.median_filter(c, size=int(self.param), mode="reflect") for c in a])
        from skimage.restoration import denoise_tv_chambolle

        w = self.param * self.data_range
        if len(a) > 1:
            return denoise_tv_chambolle(a, weight=w, channel_axis=0)
        return denoise_tv_chambolle(a[0], weight=w)[None]

    def denoise(self, y: Tensor) -> Tensor:
        a = y.double().cpu().numpy()
        return torch.from_numpy(np.stack([self._one(x) for x in a])).to(y.dtype)


class Identity:
    name = "noisy"

    def denoise(self, y: Tensor) -> Tensor:
        return y


def scores(out: Tensor, clean: Tensor, data_range: float) -> dict[str, list[float]]:
    """Per-image PSNR and SSIM of outputs vs clean images (N, C, H, W)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    o, c = out.double().cpu(), clean.double().cpu()
    psnr = peak_signal_noise_ratio(o, c, data_range=data_range, reduction="none", dim=(1, 2, 3))
    ssim = ssim_map(o, c, data_range).flatten(1).mean(1)
    return {"psnr": psnr.clamp(max=PSNR_CAP).tolist(), "ssim": ssim.tolist()}


def _mean(v: list[float]) -> float:
    return float(np.mean(v))


@torch.no_grad()
def evaluate_denoising(model, noisy: Tensor, clean: Tensor, *, image: bool = True, device=torch.device("cpu"),
                       batch: int = 32, name: str = "model", noise: str = "") -> dict:
    """PSNR/SSIM of `model.denoise` and of the baselines (module docstring) on (N, C, H, W) model-space sets."""
    if noisy.shape != clean.shape or noisy.dim() != 4:
        raise GenlabError(f"noisy and clean sets differ in shape: {tuple(noisy.shape)} vs {tuple(clean.shape)}")
    data_range = 1.0 if image else float(clean.max() - clean.min()) or 1.0
    fix = (lambda t: t.clamp(0, 1)) if image else (lambda t: t)  # noqa: E731
    out = torch.cat([model.denoise(noisy[i:i + batch].to(device)).float().cpu() for i in range(0, len(noisy), batch)])
    res: dict = {}
    per = scores(fix(out), clean, data_range)
    res.update(psnr=_mean(per["psnr"]), ssim=_mean(per["ssim"]))
    base = scores(fix(noisy), clean, data_range)
    res.update(noisy_psnr=_mean(base["psnr"]), noisy_ssim=_mean(base["ssim"]))
    chosen = {}
    for kind, grid in (("gaussian", GAUSSIAN_SIGMAS), ("median", MEDIAN_SIZES), ("tv", TV_WEIGHTS)):
        best = None
        for p in grid:
            s = scores(fix(Filter(kind, p, data_range).denoise(noisy)), clean, data_range)
            if best is None or _mean(s["psnr"]) > _mean(best[1]["psnr"]):
                best = (p, s)
        chosen[kind] = best[0]
        res.update({f"{kind}_psnr": _mean(best[1]["psnr"]), f"{kind}_ssim": _mean(best[1]["ssim"])})
    best_base = max(("noisy", "gaussian", "median", "tv"), key=lambda k: res[f"{k}_psnr"])
    res["gain_psnr_vs_best_baseline"] = res["psnr"] - res[f"{best_base}_psnr"]
    res["protocol"] = {"task": "denoising", "model": name, "noise": noise, "n_images": len(clean),
                       "size": f"{clean.shape[-2]}x{clean.shape[-1]}", "data_range": data_range,
                       "baselines": "noisy input; scipy gaussian_filter, median_filter; skimage denoise_tv_chambolle "
                                    "(each oracle-tuned on this set by PSNR)",
                       "gaussian_sigma": chosen["gaussian"], "median_size": chosen["median"],
                       "tv_weight": chosen["tv"], "best_baseline": best_base,
                       "psnr": f"torchmetrics, per image, capped at {PSNR_CAP:g} dB",
                       "ssim": "torchmetrics, Gaussian 11x11 sigma 1.5, reflect-padded map mean"}
    return res


def noise_spec(derive: str) -> str:
    """The noise item of a data.derive string ('crop:64,noise:poisson:30' -> 'noise:poisson:30')."""
    items = [s.strip() for s in (derive or "").split(",") if s.strip().startswith("noise")]
    return items[-1] if items else ""


def evaluate_run(r, *, n: Optional[int] = None, seed: int = 0, device=torch.device("cpu"),
                 split: Optional[str] = None) -> dict:
    """`genlab eval RUN` for a denoising run (a runs.LoadedRun): its eval split with its noise, seeded."""
    from ..data import load_dataset

    cfg = r.config
    d, m = cfg.data, cfg.model
    split = split or d.eval_split
    options = dict(d.options())
    noise = noise_spec(options.get("derive", ""))
    options.pop("derive", None)
    if noise:
        options["derive"] = noise  # the noise only: no random crop of the evaluation images
    data = load_dataset(d.name, split, **options)
    if m.input not in data.info.fields or m.target not in data.info.fields:
        raise GenlabError(f"the {d.name}:{split} split has no fields {m.input!r} and {m.target!r} to evaluate on")
    k = min(n or 100, len(data))
    b = data.batch(slice(0, k), generator=torch.Generator().manual_seed(seed))
    spec = r.info.fields[m.target]
    r.model.eval()
    res = evaluate_denoising(r.model, b[m.input].float(), b[m.target].float(), image=spec.kind == "image",
                             device=device, name=cfg.model_name, noise=noise or f"field {m.input!r} of the data")
    res["protocol"] = {"images": f"{d.name}:{split}, first {k} examples, noise seed {seed}", **res["protocol"]}
    return res


__all__ = ["Filter", "evaluate_denoising", "evaluate_run", "noise_spec"]
