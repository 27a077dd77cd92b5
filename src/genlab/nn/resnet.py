"""Residual generator of CycleGAN (Zhu et al. 2017), after Johnson et al. 2016 (perceptual losses).

    x (C_in, H, W) -> 7x7 conv, norm, ReLU                       (base, H, W)
      -> n_down x [3x3/2 conv, norm, ReLU]                       (base 2^n_down, H / 2^n_down, W / 2^n_down)
      -> n_blocks x ResnetBlock                                  (same)
      -> n_down x [3x3/2 transposed conv, norm, ReLU]            (base, H, W)
      -> 7x7 conv -> out_activation                              (C_out, H, W)

CycleGAN uses n_blocks = 6 at 128x128 and 9 at 256x256. Every conv, including the stride-2 ones that
CycleGAN zero-pads, uses `padding_mode` / `axis_modes`, so a periodic field stays periodic throughout.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from .activations import make_output_activation
from .norms import conv_bias, make_norm
from .padding import AxisModes, PaddedConv2d, PaddedConvTranspose2d, resolve_axis_modes
from .sizes import check_divisible_size


class ResnetBlock(nn.Module):
    """x + F(x) with F = 3x3 conv, norm, ReLU, (dropout), 3x3 conv, norm: (B, C, H, W) -> (B, C, H, W).

    He et al. 2016 residual block as used in CycleGAN (no activation after the sum).
    """

    def __init__(self, channels: int, *, norm: str = "instance", padding_mode: str = "reflect",
                 axis_modes: AxisModes | None = None, periodic_axes: Sequence[int] | None = None,
                 dropout: float = 0.0):
        super().__init__()
        modes = resolve_axis_modes(padding_mode, axis_modes, periodic_axes)
        bias = conv_bias(norm)
        layers = [PaddedConv2d(channels, channels, 3, axis_modes=modes, bias=bias), make_norm(norm, channels),
                  nn.ReLU()]
        layers += [nn.Dropout(dropout)] if dropout > 0 else []
        layers += [PaddedConv2d(channels, channels, 3, axis_modes=modes, bias=bias), make_norm(norm, channels)]
        self.residual = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.residual(x)


class ResnetGenerator(nn.Module):
    """CycleGAN generator: (B, in_channels, H, W) -> (B, out_channels, H, W), H, W divisible by 2**n_down.

    Channels: `base` at full resolution, doubled by each of the `n_down` stride-2 convs; `n_blocks`
    residual blocks at the lowest resolution; `dropout` inside the residual blocks (CycleGAN: 0).
    """

    def __init__(self, in_channels: int, out_channels: int, *, base: int = 64, n_down: int = 2,
                 n_blocks: int = 9, norm: str = "instance", padding_mode: str = "reflect",
                 axis_modes: AxisModes | None = None, periodic_axes: Sequence[int] | None = None,
                 dropout: float = 0.0, out_activation: str = "tanh"):
        super().__init__()
        if n_down < 0 or n_blocks < 0:
            raise ValueError(f"n_down={n_down}, n_blocks={n_blocks} are invalid; both must be >= 0")
        self.n_down = n_down
        modes = resolve_axis_modes(padding_mode, axis_modes, periodic_axes)
        bias = conv_bias(norm)
        layers: list[nn.Module] = [PaddedConv2d(in_channels, base, 7, axis_modes=modes, bias=bias),
                                   make_norm(norm, base), nn.ReLU()]
        for i in range(n_down):
            c_in, c_out = base * 2 ** i, base * 2 ** (i + 1)
            layers += [PaddedConv2d(c_in, c_out, 3, stride=2, axis_modes=modes, bias=bias),
                       make_norm(norm, c_out), nn.ReLU()]
        width = base * 2 ** n_down
        layers += [ResnetBlock(width, norm=norm, axis_modes=modes, dropout=dropout) for _ in range(n_blocks)]
        for i in reversed(range(n_down)):
            c_in, c_out = base * 2 ** (i + 1), base * 2 ** i
            layers += [PaddedConvTranspose2d(c_in, c_out, 3, stride=2, axis_modes=modes, bias=bias),
                       make_norm(norm, c_out), nn.ReLU()]
        layers += [PaddedConv2d(base, out_channels, 7, axis_modes=modes), make_output_activation(out_activation)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        check_divisible_size(x.shape[-2], x.shape[-1], 2 ** self.n_down,
                             network=f"ResnetGenerator(n_down={self.n_down})")
        return self.net(x)
