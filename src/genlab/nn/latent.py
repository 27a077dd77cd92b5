"""Networks that take or produce a latent code z (B, z_dim) next to an image: conditional instance
norm, a ResNet generator steered by z through it, and a conv encoder of images to codes.

Conditional instance norm (Dumoulin et al. 2017, the "CondInstanceNorm" of Augmented CycleGAN):
each channel is normalised by its own spatial statistics, then scaled and shifted by affine maps of z,

    CIN(x, z) = (1 + W_γ z + c_γ) ⊙ (x − μ(x)) / σ(x) + (W_β z + c_β),

so one generator makes a different picture for every z. The "1 +" keeps γ near 1 for small codes.
"""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from .activations import make_output_activation
from .padding import AxisModes, PaddedConv2d, PaddedConvTranspose2d, resolve_axis_modes
from .sizes import check_divisible_size


class CondInstanceNorm2d(nn.Module):
    """(B, C, H, W), z (B, z_dim) -> (B, C, H, W): instance norm with γ = 1 + Linear(z), β = Linear(z)."""

    def __init__(self, channels: int, z_dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.scale = nn.Linear(z_dim, channels)
        self.shift = nn.Linear(z_dim, channels)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        h = F.instance_norm(x, eps=self.eps)
        gamma = 1.0 + self.scale(z.to(h.dtype))  # (B, C)
        beta = self.shift(z.to(h.dtype))
        return h * gamma[:, :, None, None] + beta[:, :, None, None]


class LatentResnetBlock(nn.Module):
    """x + F(x, z) with F = 3x3 conv, CIN(z), ReLU, 3x3 conv, CIN(z): (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int, z_dim: int, *, axis_modes: tuple[str, str]):
        super().__init__()
        self.conv1 = PaddedConv2d(channels, channels, 3, axis_modes=axis_modes, bias=False)
        self.norm1 = CondInstanceNorm2d(channels, z_dim)
        self.conv2 = PaddedConv2d(channels, channels, 3, axis_modes=axis_modes, bias=False)
        self.norm2 = CondInstanceNorm2d(channels, z_dim)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        h = F.relu(self.norm1(self.conv1(x), z))
        return x + self.norm2(self.conv2(h), z)


class LatentResnetGenerator(nn.Module):
    """The CycleGAN ResNet generator with every norm conditional on z:
    (B, in_channels, H, W), z (B, z_dim) -> (B, out_channels, H, W), H, W divisible by 2**n_down.

    Layout as `ResnetGenerator` (7x7 conv, n_down 3x3/2 convs, n_blocks residual blocks, n_down 3x3/2
    transposed convs, 7x7 conv -> out_activation); every instance norm is a `CondInstanceNorm2d`, so z
    reaches every resolution. Convs followed by a norm carry no bias (β replaces it).
    """

    def __init__(self, in_channels: int, out_channels: int, z_dim: int, *, base: int = 64, n_down: int = 2,
                 n_blocks: int = 9, padding_mode: str = "reflect", axis_modes: AxisModes | None = None,
                 periodic_axes: Sequence[int] | None = None, out_activation: str = "tanh"):
        super().__init__()
        if n_down < 0 or n_blocks < 0 or z_dim < 1:
            raise ValueError(f"n_down={n_down}, n_blocks={n_blocks}, z_dim={z_dim} are invalid; "
                             "need n_down, n_blocks >= 0 and z_dim >= 1")
        self.n_down, self.z_dim = n_down, z_dim
        modes = resolve_axis_modes(padding_mode, axis_modes, periodic_axes)
        layers: list[nn.Module] = [PaddedConv2d(in_channels, base, 7, axis_modes=modes, bias=False),
                                   CondInstanceNorm2d(base, z_dim), nn.ReLU()]
        for i in range(n_down):
            c_in, c_out = base * 2 ** i, base * 2 ** (i + 1)
            layers += [PaddedConv2d(c_in, c_out, 3, stride=2, axis_modes=modes, bias=False),
                       CondInstanceNorm2d(c_out, z_dim), nn.ReLU()]
        width = base * 2 ** n_down
        layers += [LatentResnetBlock(width, z_dim, axis_modes=modes) for _ in range(n_blocks)]
        for i in reversed(range(n_down)):
            c_in, c_out = base * 2 ** (i + 1), base * 2 ** i
            layers += [PaddedConvTranspose2d(c_in, c_out, 3, stride=2, axis_modes=modes, bias=False),
                       CondInstanceNorm2d(c_out, z_dim), nn.ReLU()]
        layers += [PaddedConv2d(base, out_channels, 7, axis_modes=modes), make_output_activation(out_activation)]
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        check_divisible_size(x.shape[-2], x.shape[-1], 2 ** self.n_down,
                             network=f"LatentResnetGenerator(n_down={self.n_down})")
        if z.shape != (x.shape[0], self.z_dim):
            raise ValueError(f"z has shape {tuple(z.shape)}; expected ({x.shape[0]}, {self.z_dim})")
        h = x
        for layer in self.layers:
            h = layer(h, z) if isinstance(layer, (CondInstanceNorm2d, LatentResnetBlock)) else layer(h)
        return h


class LatentEncoder(nn.Module):
    """(B, in_channels, H, W) -> (B, z_dim): `n_layers` 3x3 stride-2 convs (widths base * 2^min(i, 3)),
    LeakyReLU(0.2), no norm (works at any size down to 1x1), global average pooling, a linear head.

    Zero padding except along `periodic_axes` ((B, C, H, W) dims), which wrap. Any H x W: a side that is
    already 1 stays 1.
    """

    def __init__(self, in_channels: int, z_dim: int, *, base: int = 32, n_layers: int = 4,
                 periodic_axes: Sequence[int] | None = None):
        super().__init__()
        if n_layers < 1 or z_dim < 1 or base < 1:
            raise ValueError(f"n_layers={n_layers}, z_dim={z_dim}, base={base} are invalid; all must be >= 1")
        modes = resolve_axis_modes("zeros", periodic_axes=periodic_axes)
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(n_layers):
            w = base * 2 ** min(i, 3)
            layers += [PaddedConv2d(c, w, 3, stride=2, axis_modes=modes), nn.LeakyReLU(0.2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, z_dim)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x).mean(dim=(2, 3))  # (B, c)
        return self.head(h)  # (B, z_dim)
