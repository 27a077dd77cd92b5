"""The loss terms of partial-convolution inpainting (Liu et al. 2018, §3.3), as pure tensor maths.

With I_out the network output, I_gt the ground truth, M the mask (1 = known, 0 = hole; one channel or one per
channel), I_comp = (1 − M) ⊙ I_out + M ⊙ I_gt the composite and N = C·H·W the elements of one image:

    L_valid = (1/N) ‖M ⊙ (I_out − I_gt)‖₁           L_hole = (1/N) ‖(1 − M) ⊙ (I_out − I_gt)‖₁
    L_tv    = Σ_{(i,j),(i,j+1) ∈ P} ‖I_comp[i,j+1] − I_comp[i,j]‖₁ / N
            + Σ_{(i,j),(i+1,j) ∈ P} ‖I_comp[i+1,j] − I_comp[i,j]‖₁ / N       (P = the hole region dilated by 1 px)
    L_perc  = Σ_p ‖ψ_p(I_out) − ψ_p(I_gt)‖₁ / N_ψp + Σ_p ‖ψ_p(I_comp) − ψ_p(I_gt)‖₁ / N_ψp
    L_style = Σ_p (1/C_p²) ‖K_p (ψ_p(I)ᵀ ψ_p(I) − ψ_p(I_gt)ᵀ ψ_p(I_gt))‖₁,   K_p = 1/(C_p H_p W_p),
              I = I_out (L_style_out) or I_comp (L_style_comp)

Every term is averaged over the batch. N counts *all* elements of an image, not those of the region (the
paper's normalisation: a small hole gives a small L_hole). An optional `weight` (B, 1|C, H, W) of 0/1 marks
where the ground truth exists (data with observational gaps): errors outside it count nowhere, and N stays
C·H·W. ψ_p are feature maps (B, C_p, H_p, W_p) of some network (the paper: VGG-16 pool1-3, ImageNet).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch.nn.functional as F
from torch import Tensor


def valid_hole_l1(out: Tensor, gt: Tensor, mask: Tensor, weight: Optional[Tensor] = None, *,
                  squared: bool = False) -> tuple[Tensor, Tensor]:
    """(L_valid, L_hole) of (B, C, H, W) outputs; mask (B, 1|C, H, W), 1 = known (module docstring).
    squared: (I_out − I_gt)² in place of |I_out − I_gt| (the mean, not the median, is then the optimum:
    the estimate an RMSE-scored field wants)."""
    err = (out.float() - gt.float()).abs()
    if squared:
        err = err * err
    m = mask.float()
    if weight is not None:
        err = err * weight.float()
    return (err * m).mean(), (err * (1.0 - m)).mean()


def dilate_holes(mask: Tensor) -> Tensor:
    """P: the hole region (mask == 0) dilated by one pixel (3 x 3 neighbourhood), 1 inside P, same shape."""
    hole = 1.0 - mask.float()
    return F.max_pool2d(hole, 3, stride=1, padding=1)


def total_variation(comp: Tensor, mask: Tensor) -> Tensor:
    """L_tv of the composite (B, C, H, W) over pairs of neighbours that both lie in P (module docstring)."""
    p = dilate_holes(mask)  # (B, 1|C, H, W)
    c = comp.float()
    n = c[0].numel()
    dx = (c[..., :, 1:] - c[..., :, :-1]).abs() * (p[..., :, 1:] * p[..., :, :-1])  # (B, C, H, W − 1)
    dy = (c[..., 1:, :] - c[..., :-1, :]).abs() * (p[..., 1:, :] * p[..., :-1, :])  # (B, C, H − 1, W)
    return (dx.flatten(1).sum(1) + dy.flatten(1).sum(1)).mean() / n


def gram(f: Tensor) -> Tensor:
    """K_p ψᵀψ: (B, C, H, W) -> (B, C, C) Gram matrices divided by C·H·W."""
    b, c, h, w = f.shape
    v = f.float().reshape(b, c, h * w)  # (B, C, HW)
    return v @ v.transpose(1, 2) / (c * h * w)  # (B, C, C)


def perceptual(feats_out: Sequence[Tensor], feats_comp: Sequence[Tensor], feats_gt: Sequence[Tensor]) -> Tensor:
    """L_perc: per-layer mean absolute feature differences of I_out and I_comp against I_gt, summed."""
    total = 0.0
    for fo, fc, fg in zip(feats_out, feats_comp, feats_gt):
        g = fg.float()
        total = total + (fo.float() - g).abs().mean() + (fc.float() - g).abs().mean()
    return total


def style(feats: Sequence[Tensor], feats_gt: Sequence[Tensor]) -> Tensor:
    """L_style of one image set (I_out or I_comp): Σ_p mean over the C_p² entries of |gram(ψ) − gram(ψ_gt)|."""
    total = 0.0
    for f, fg in zip(feats, feats_gt):
        total = total + (gram(f) - gram(fg)).abs().mean()
    return total
