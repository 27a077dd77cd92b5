"""Causal convolutions for autoregressive image models (PixelCNN family).

Raster order: pixel (i, j) may depend only on pixels (i', j') with i' < i, or i' = i and j' < j.

- `MaskedConv2d` (van den Oord et al. 2016a): a k×k kernel multiplied by a fixed mask. Type 'A' (first
  layer) zeroes the centre and everything after it; type 'B' (later layers) keeps the centre. Stacking
  them leaves a *blind spot* (pixels above-right of the centre that the receptive field never reaches).
- `GatedLayer` (van den Oord et al. 2016b, gated PixelCNN): a vertical stack (rows strictly above, every
  column within reach) and a horizontal stack (the current row, columns to the left); the vertical
  features reach the horizontal stack only after a one-row down shift, which removes the blind spot.
  Gate: y = tanh(W_f * x) ⊙ σ(W_g * x).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MaskedConv2d(nn.Conv2d):
    """k×k convolution whose kernel is masked to be causal in raster order ('A' excludes the centre)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, mask_type: str):
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type={mask_type!r} is invalid; expected 'A' or 'B'")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        k = kernel_size
        mask = torch.ones(k, k)
        c = k // 2
        mask[c, c + (1 if mask_type == "B" else 0):] = 0  # the centre row: the centre (A) and right of it
        mask[c + 1:] = 0  # every row below the centre
        self.register_buffer("mask", mask.view(1, 1, k, k), persistent=False)  # (1, 1, k, k)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def shift_down(x: Tensor) -> Tensor:
    """Move every row one step down (row 0 becomes zeros): features of row i−1 arrive at row i."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]  # (B, C, H, W)


def gate(x: Tensor) -> Tensor:
    """tanh(a) ⊙ σ(b) for the two channel halves a, b."""
    a, b = x.chunk(2, dim=1)  # (B, 2C, H, W) -> 2 x (B, C, H, W)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    """One gated PixelCNN layer with vertical and horizontal stacks.

    Vertical conv: kernel (k//2 + 1) × k over rows i−k//2..i (padding on top), so the vertical feature at
    row i sees rows ≤ i; it enters the horizontal stack shifted down by one row (rows < i only).
    Horizontal conv: kernel 1 × (k//2 + 1) over columns j−k//2..j ('B'), or 1 × (k//2) over columns
    j−k//2..j−1 for the first layer ('A', which must not see the pixel it predicts).
    The first layer has no residual connection; later layers add the input back in the horizontal stack.
    """

    def __init__(self, channels_in: int, channels: int, kernel_size: int, *, first: bool):
        super().__init__()
        k2 = kernel_size // 2
        self.first, self.k2 = first, k2
        self.v_conv = nn.Conv2d(channels_in, 2 * channels, (k2 + 1, kernel_size))
        self.h_conv = nn.Conv2d(channels_in, 2 * channels, (1, k2 if first else k2 + 1))
        self.v_to_h = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.h_out = nn.Conv2d(channels, channels, 1)

    def vertical(self, v: Tensor) -> Tensor:
        """Pre-gate vertical features (B, 2C, H, W); row i depends on input rows ≤ i."""
        return self.v_conv(F.pad(v, (self.k2, self.k2, self.k2, 0)))

    def horizontal(self, h: Tensor, v_pre_shifted: Tensor) -> Tensor:
        """Horizontal output (B, C, H, W) from the horizontal input and the down-shifted vertical
        pre-activations. Works on any number of rows (the incremental sampler passes one row)."""
        if self.first:
            hp = F.pad(h, (self.k2, 0, 0, 0))[:, :, :, :-1]  # (B, C, H, W): columns j−k2..j−1 only
        else:
            hp = F.pad(h, (self.k2, 0, 0, 0))  # (B, C, H, W + k2)
        out = self.h_out(gate(self.h_conv(hp) + self.v_to_h(v_pre_shifted)))
        return out if self.first else h + out

    def forward(self, v: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        v_pre = self.vertical(v)
        return gate(v_pre), self.horizontal(h, shift_down(v_pre))
