"""Equalised learning rate (Karras et al. 2018, "Progressive growing of GANs", §4.1).

A layer stores its weight as Ŵ ~ N(0, 1/λ²) and uses, at every forward pass,

    W = c · Ŵ,   c = λ / √fan_in,        b = λ · b̂,

so the effective weight has std 1/√fan_in whatever λ (He initialisation without the gain, which the
activation carries instead). The gradient w.r.t. the stored Ŵ is c · ∂L/∂W: with Adam, whose steps are
about lr in the stored parameters whatever their gradient scale, every layer then moves its *effective*
weights by ~lr·c — the same relative speed for wide and narrow layers. λ = `lr_mul` slows a whole
sub-network down (StyleGAN's mapping network: λ = 0.01).

Activations are leaky ReLU (slope 0.2) times √2, StyleGAN's "lrelu" whose gain keeps unit variance.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LRELU_GAIN = math.sqrt(2.0)


def lrelu(x: Tensor) -> Tensor:
    """√2 · leaky_relu(x, 0.2): the variance-preserving activation of StyleGAN."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


class EqualLinear(nn.Module):
    """y = act(x (c·Ŵ)ᵀ + λ·b̂), c = λ/√in_features; (B, in) -> (B, out).

    bias_init: the *effective* initial bias (StyleGAN's style affines start at 1).
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul, self.activation = lr_mul, activation

    def effective_weight(self) -> Tensor:
        return self.weight * self.scale

    def forward(self, x: Tensor) -> Tensor:
        b = self.bias * self.lr_mul if self.bias is not None else None
        y = F.linear(x, self.effective_weight(), b)
        return lrelu(y) if self.activation else y


class EqualConv2d(nn.Module):
    """y = act(conv(x, c·Ŵ) + b), c = 1/√(in·k²), 'same' zero padding; (B, in, H, W) -> (B, out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True,
                 activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.padding, self.activation = kernel_size // 2, activation

    def forward(self, x: Tensor) -> Tensor:
        y = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)
        return lrelu(y) if self.activation else y


class PixelNorm(nn.Module):
    """x / √(mean_c x_c² + ε) along dim 1 (normalises each latent z to norm √d)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)
