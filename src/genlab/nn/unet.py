"""U-Net generator of pix2pix (Isola et al. 2017, after Ronneberger et al. 2015).

Level i (0 = outermost) halves the resolution and has w_i = min(base * 2**i, max_channels) channels.
Encoder: conv(x) at level 0, then [LeakyReLU(0.2) -> conv -> norm] (no norm at the innermost level,
whose map may be 1x1, as in pix2pix). Decoder, innermost first: [ReLU -> up-conv -> norm (-> dropout)],
fed by cat(decoder features, encoder skip); the outermost up-conv ends in `out_activation`.

    x (C_in, H) -> e_0 (w_0, H/2) -> e_1 (w_1, H/4) -> ... -> e_{d-1} (w_{d-1}, H/2^d)
    out (C_out, H) <- d_0 <- cat(d_1, e_0) (2 w_0, H/2) <- ... <- d_{d-1} = up(e_{d-1}) (w_{d-2}, H/2^{d-1})
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from .activations import make_output_activation
from .norms import check_norm, conv_bias, make_norm
from .padding import AxisModes, PaddedConv2d, PaddedConvTranspose2d, resolve_axis_modes
from .sizes import check_divisible_size

DROPOUT_LEVELS = 3  # pix2pix: dropout (its only noise source) in the 3 innermost decoder blocks


def _down(c_in: int, c_out: int, *, how: str, modes: tuple[str, str], bias: bool) -> list[nn.Module]:
    """(B, c_in, H, W) -> (B, c_out, H/2, W/2): a 4x4/2 conv, or a 3x3/1 conv and 2x2 average pooling."""
    if how == "stride":
        return [PaddedConv2d(c_in, c_out, 4, stride=2, axis_modes=modes, bias=bias)]
    return [PaddedConv2d(c_in, c_out, 3, axis_modes=modes, bias=bias), nn.AvgPool2d(2)]


def _up(c_in: int, c_out: int, *, how: str, modes: tuple[str, str], bias: bool) -> list[nn.Module]:
    """(B, c_in, H, W) -> (B, c_out, 2H, 2W): a 4x4/2 transposed conv, or nearest upsampling and 3x3 conv."""
    if how == "transpose":
        return [PaddedConvTranspose2d(c_in, c_out, 4, stride=2, axis_modes=modes, bias=bias)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), PaddedConv2d(c_in, c_out, 3, axis_modes=modes, bias=bias)]


class UNet(nn.Module):
    """pix2pix U-Net: (B, in_channels, H, W) -> (B, out_channels, H, W), H and W divisible by 2**depth.

    Keyword arguments: `base` channels at level 0, doubled per level up to `max_channels`; `norm` in
    {'batch', 'instance', 'group', 'none'}; `dropout` probability in the 3 innermost decoder blocks
    (pix2pix uses 0.5, in train and test mode alike: keep the module in train mode to sample); padding
    per axis as in `PaddedConv2d`; `down` = 'stride' (4x4/2 convs) or 'pool' (3x3 conv + avg-pool);
    `up` = 'transpose' (4x4/2 transposed convs, as pix2pix) or 'upsample' (nearest + 3x3 conv, no
    checkerboard artefacts). pix2pix's 256x256 generator is `UNet(3, 3, depth=8)` (54.41 M parameters).
    'reflect' padding cannot extend a 1x1 bottleneck (H = 2**depth) for up='transpose': use 'upsample'.
    """

    def __init__(self, in_channels: int, out_channels: int, *, base: int = 64, depth: int = 4,
                 max_channels: int = 512, norm: str = "batch", dropout: float = 0.0,
                 padding_mode: str = "zeros", axis_modes: AxisModes | None = None,
                 periodic_axes: Sequence[int] | None = None, out_activation: str = "tanh",
                 down: str = "stride", up: str = "transpose"):
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth={depth} is invalid; a U-Net needs depth >= 1")
        if down not in ("stride", "pool"):
            raise ValueError(f"down={down!r} is invalid; expected 'stride' or 'pool'")
        if up not in ("transpose", "upsample"):
            raise ValueError(f"up={up!r} is invalid; expected 'transpose' or 'upsample'")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout} is invalid; expected 0 <= dropout < 1")
        check_norm(norm)
        self.depth = depth
        modes = resolve_axis_modes(padding_mode, axis_modes, periodic_axes)
        widths = [min(base * 2 ** i, max_channels) for i in range(depth)]
        innermost = depth - 1

        encoder = []
        for i in range(depth):
            c_in = in_channels if i == 0 else widths[i - 1]
            with_norm = 0 < i < innermost
            layers = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers += _down(c_in, widths[i], how=down, modes=modes, bias=not with_norm or conv_bias(norm))
            layers += [make_norm(norm, widths[i])] if with_norm else []
            encoder.append(nn.Sequential(*layers))
        self.encoder = nn.ModuleList(encoder)

        decoder = []
        for i in range(depth):
            c_in = widths[i] if i == innermost else 2 * widths[i]  # cat(decoder, skip) below the bottleneck
            c_out = out_channels if i == 0 else widths[i - 1]
            layers = [nn.ReLU()] + _up(c_in, c_out, how=up, modes=modes, bias=i == 0 or conv_bias(norm))
            if i == 0:
                layers.append(make_output_activation(out_activation))
            else:
                layers.append(make_norm(norm, c_out))
                if dropout > 0 and i >= innermost - (DROPOUT_LEVELS - 1):
                    layers.append(nn.Dropout(dropout))
            decoder.append(nn.Sequential(*layers))
        self.decoder = nn.ModuleList(decoder)

    def forward(self, x: Tensor) -> Tensor:
        check_divisible_size(x.shape[-2], x.shape[-1], 2 ** self.depth, network=f"UNet(depth={self.depth})")
        skips = []
        h = x
        for block in self.encoder:
            h = block(h)  # e_i: (B, w_i, H / 2^(i+1), W / 2^(i+1))
            skips.append(h)
        h = self.decoder[-1](skips[-1])  # (B, w_{d-2}, H / 2^(d-1), W / 2^(d-1))
        for i in reversed(range(self.depth - 1)):
            h = torch.cat([h, skips[i]], dim=1)  # (B, w_i + w_i, H / 2^(i+1), W / 2^(i+1))
            h = self.decoder[i](h)  # (B, w_{i-1} or C_out, H / 2^i, W / 2^i)
        return h
