"""Full-reference image quality: L1, PSNR, SSIM between outputs and targets of the same shape.

Conventions (stated, since papers differ):
- Inputs are (N, C, H, W) float tensors on a known data range `data_range` (1.0 for images in model space
  [0, 1]; for physical fields pass the range explicitly, e.g. max − min of the targets).
- Every metric is computed **per image, then averaged** over the N images (BasicSR and most SR papers do
  this; averaging the MSE first gives a different PSNR).
- L1 = mean |x − y| over C·H·W.   PSNR = 10 log10(data_range² / MSE), MSE over C·H·W; an exact match is
  capped at `PSNR_CAP` dB (100) rather than +inf.
- SSIM (Wang et al. 2004, eq. 13):
      SSIM(x, y) = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),
      C1 = (K1 L)², C2 = (K2 L)², K1 = 0.01, K2 = 0.03, L = data_range,
  with local statistics under an 11 × 11 Gaussian window of σ = 1.5 (population covariances, the paper's),
  evaluated only where the window fits (no padding), averaged over those positions and over channels.
  This equals `skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=L, channel_axis=0)` (checked in tests/test_image_quality.py).
  Images smaller than the window use a window of their size (odd, at least 3).
- Super-resolution convention (BasicSR / the SR papers' MATLAB code): `to_y` maps RGB in [0, 1] to the
  luma of ITU-R BT.601 "studio swing" YCbCr, Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 (so Y is in
  [16/255, 235/255]), and `crop_border(x, s)` drops s pixels on every side (s = the scale factor) before
  PSNR/SSIM are computed on Y with data range 1 (the same numbers as BasicSR's on [0, 255]).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

PSNR_CAP = 100.0
WIN, SIGMA, K1, K2 = 11, 1.5, 0.01, 0.03


def _check(x: Tensor, y: Tensor) -> None:
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"expected two (N, C, H, W) tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")


def l1_per_image(x: Tensor, y: Tensor) -> Tensor:
    """(N,) mean |x − y| of each image."""
    _check(x, y)
    return (x.double() - y.double()).abs().flatten(1).mean(1)


def mse_per_image(x: Tensor, y: Tensor) -> Tensor:
    _check(x, y)
    return (x.double() - y.double()).pow(2).flatten(1).mean(1)


def psnr_per_image(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """(N,) 10 log10(L² / MSE) of each image, capped at PSNR_CAP dB."""
    mse = mse_per_image(x, y)
    out = 10.0 * torch.log10(torch.as_tensor(data_range, dtype=torch.float64) ** 2 / mse.clamp_min(1e-300))
    return out.clamp(max=PSNR_CAP)


def gaussian_window(size: int = WIN, sigma: float = SIGMA) -> Tensor:
    """(size,) normalised 1-D Gaussian; the 2-D window is its outer product."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(r ** 2) / (2.0 * sigma ** 2))
    return g / g.sum()


def ssim_per_image(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """(N,) SSIM of each image (module docstring: Gaussian 11 × 11, σ 1.5, valid positions, channel mean)."""
    _check(x, y)
    n, c, h, w = x.shape
    size = min(WIN, h, w)
    size = size if size % 2 else size - 1
    if size < 3:
        raise ValueError(f"SSIM needs images of at least 3 x 3, got {h} x {w}")
    g = gaussian_window(size, SIGMA)
    kh = g.view(1, 1, size, 1).expand(c, 1, size, 1)
    kw = g.view(1, 1, 1, size).expand(c, 1, 1, size)

    def blur(t: Tensor) -> Tensor:  # separable valid Gaussian filter per channel
        return F.conv2d(F.conv2d(t, kh, groups=c), kw, groups=c)

    xd, yd = x.double(), y.double()
    mx, my = blur(xd), blur(yd)
    sxx = blur(xd * xd) - mx * mx
    syy = blur(yd * yd) - my * my
    sxy = blur(xd * yd) - mx * my
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1)


Y_WEIGHTS = (65.481, 128.553, 24.966)  # ITU-R BT.601, for R, G, B in [0, 1] -> Y in [16, 235]


def to_y(x: Tensor) -> Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) BT.601 studio-swing luma in [16/255, 235/255];
    a 1-channel input is returned as it is (already grey)."""
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise ValueError(f"to_y needs RGB (3-channel) images, got {x.shape[1]} channels")
    w = torch.tensor(Y_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return ((x * w).sum(1, keepdim=True) + 16.0) / 255.0


def crop_border(x: Tensor, border: int) -> Tensor:
    """Drop `border` pixels on every side of (N, C, H, W) (SR evaluation crops the scale factor)."""
    if border < 0 or 2 * border >= min(x.shape[-2:]):
        raise ValueError(f"border {border} is invalid for {x.shape[-2]} x {x.shape[-1]} images")
    return x[..., border:x.shape[-2] - border, border:x.shape[-1] - border] if border else x


def summary(values: Tensor) -> dict[str, float]:
    """mean and standard error of per-image values."""
    v = values.double()
    n = v.numel()
    se = float(v.std(unbiased=True) / math.sqrt(n)) if n > 1 else float("nan")
    return {"mean": float(v.mean()), "se": se}
