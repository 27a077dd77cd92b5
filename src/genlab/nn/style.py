"""StyleGAN2 layers (Karras et al. 2019, 2020): style modulation, noise inputs, the constant input, toRGB.

Modulated convolution with demodulation (StyleGAN2 eq. 1 and 3), for sample b with style s_b = A(w_b):

    W'_b[o, i, k] = c · Ŵ[o, i, k] · s_b[i]                         (modulation, c = 1/√(in·k²))
    W''_b[o, i, k] = W'_b[o, i, k] / √(Σ_{i,k} W'_b[o, i, k]² + ε)   (demodulation)
    y_b = conv(x_b, W''_b)

For inputs with iid unit-variance entries, Var(y_b[o]) = Σ_{i,k} W''_b[o,i,k]² = 1: demodulation replaces
AdaIN's instance normalisation by its expected effect, without the "droplet" artefacts. Two identical
implementations:
- `grouped`: the per-sample weights (B, O, I, k, k) as one grouped convolution (groups = B), the
  StyleGAN2 reference ("fused modconv");
- `scaled`:  conv(x · s, c·Ŵ) · d, d_b[o] = (Σ_{i,k} (c Ŵ[o,i,k] s_b[i])² + ε)^(-1/2): one ordinary
  convolution shared by the batch (faster on CPUs; identical up to rounding).

Upsampling (StyleGAN2 uses a transposed conv plus a [1,3,3,1] FIR filter) is bilinear ×2 followed by the
3×3 modulated conv here — pure PyTorch, no custom ops; the skip outputs' images are upsampled bilinearly too.

Noise inputs: x + γ ⊙ n with one N(0, 1) map n per sample and layer, shared by the channels, and a learned
per-channel strength γ (StyleGAN1's B; initialised to 0). Without a generator a fixed map drawn at
initialisation is used ("const" noise), so decoding a latent is deterministic.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .equalized import EqualLinear, PixelNorm, lrelu


def upsample2x(x: Tensor) -> Tensor:
    """Bilinear ×2: (B, C, H, W) -> (B, C, 2H, 2W)."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def noise_map(shape, like: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    """N(0, 1) of `shape` from `generator` (on its device), in `like`'s dtype."""
    dev = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=dev).to(like.device, like.dtype)


class ModulatedConv2d(nn.Module):
    """Modulated (and optionally demodulated) k×k conv: (x (B, I, H, W), w (B, D)) -> (B, O, H', W'),
    H' = 2H with `up`. The affine A: w -> s has equalised lr and bias initialised to 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, *,
                 demodulate: bool = True, up: bool = False, mode: str = "grouped"):
        super().__init__()
        if mode not in ("grouped", "scaled"):
            raise ValueError(f"modulated conv mode {mode!r}; expected grouped or scaled")
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.demodulate, self.up, self.mode = demodulate, up, mode
        self.padding = kernel_size // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        s = self.affine(w).float()  # (B, I) styles
        if self.up:
            x = upsample2x(x)
        weight = self.weight * self.scale  # (O, I, k, k)
        if self.mode == "scaled":
            return self._scaled(x, s, weight)
        b, i, h, wd = x.shape
        wb = weight.unsqueeze(0) * s[:, None, :, None, None]  # (B, O, I, k, k)
        if self.demodulate:
            wb = wb * torch.rsqrt(wb.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        o = wb.shape[1]
        y = F.conv2d(x.reshape(1, b * i, h, wd), wb.reshape(b * o, i, *wb.shape[3:]).to(x.dtype),
                     padding=self.padding, groups=b)  # (1, B*I, H, W) -> (1, B*O, H, W)
        return y.reshape(b, o, h, wd)  # (1, B*O, H, W) -> (B, O, H, W)

    def _scaled(self, x: Tensor, s: Tensor, weight: Tensor) -> Tensor:
        y = F.conv2d(x * s[:, :, None, None].to(x.dtype), weight.to(x.dtype), padding=self.padding)
        if self.demodulate:
            d = torch.rsqrt(s.pow(2) @ weight.pow(2).sum(dim=(2, 3)).t() + 1e-8)  # (B, I) @ (I, O) -> (B, O)
            y = y * d[:, :, None, None].to(y.dtype)
        return y


class NoiseInjection(nn.Module):
    """x + γ_c · n, n: one N(0, 1) map per sample (B, 1, H, W); fixed buffer map without a generator."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))
        self.register_buffer("const", torch.randn(1, 1, size, size))

    def forward(self, x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        b, _, h, w = x.shape
        n = self.const.to(x.dtype) if generator is None else noise_map((b, 1, h, w), x, generator)
        return x + self.strength.view(1, -1, 1, 1).to(x.dtype) * n


class StyledLayer(nn.Module):
    """lrelu(modconv(x, w) + noise + bias), optionally upsampling ×2 first."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, size: int, *, up: bool = False,
                 mode: str = "grouped"):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up, mode=mode)
        self.noise = NoiseInjection(out_channels, size)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        y = self.noise(self.conv(x, w), generator)
        return lrelu(y + self.bias.view(1, -1, 1, 1).to(y.dtype))


class ToRGB(nn.Module):
    """Modulated 1×1 conv without demodulation, plus bias: features (B, I, H, W) -> image (B, C, H, W)."""

    def __init__(self, in_channels: int, channels: int, w_dim: int, *, mode: str = "grouped"):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False, mode=mode)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        y = self.conv(x, w)
        return y + self.bias.view(1, -1, 1, 1).to(y.dtype)


class ConstantInput(nn.Module):
    """The learned 4×4 input of the synthesis network, (1, C, 4, 4) ~ N(0, 1) at init, repeated over B."""

    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.value = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> Tensor:
        return self.value.expand(batch, -1, -1, -1)  # (1, C, 4, 4) -> (B, C, 4, 4)


class MappingNetwork(nn.Module):
    """f: z -> w = MLP(z / √(mean z² + ε)), `depth` equalised-lr lrelu layers with lr multiplier λ
    (0.01 in StyleGAN: the mapping learns 100× slower than the synthesis). depth 0: w = pixel-norm(z)."""

    def __init__(self, dim: int, depth: int, *, lr_mul: float = 0.01):
        super().__init__()
        layers: list[nn.Module] = [PixelNorm()]
        layers += [EqualLinear(dim, dim, lr_mul=lr_mul, activation=True) for _ in range(depth)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)
