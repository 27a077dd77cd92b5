"""Partial convolution (Liu et al. 2018, "Image Inpainting for Irregular Holes Using Partial Convolutions").

For a window with features X and mask M (1 = known, 0 = hole) and weights W, bias b:

    x' = W^T (X ⊙ M) · sum(1) / sum(M) + b     if sum(M) > 0
    x' = 0                                     otherwise
    m' = 1 if sum(M) > 0 else 0                (the mask update)

sum(1) = C_in · k² counts every entry of the window and sum(M) its known entries. A mask of one channel
(B, 1, H, W) is broadcast over the C_in channels (then sum(1)/sum(M) = k² / Σ_window m, the single-
channel form); a mask of C_in channels (B, C_in, H, W) marks each input channel on its own (the
"multi-channel" form the paper's decoder uses for cat(features, skip) and climate fields use for
per-variable gaps). The updated mask m' is always one channel (B, 1, H', W'): every output channel sees
the same window. With an all-ones mask the factor is 1 and the layer is a plain convolution — except where
the window reaches into zero padding, which counts as holes (the paper's choice: the border is renormalised).

Padding per axis as nn/padding.py: with 'zeros' the mask is padded with zeros (holes); with 'periodic' X and
M both wrap around (a longitude axis has no border); 'reflect'/'replicate' pad M like X. Mask sums are
computed in float32 with autocast off, so they are exact counts under bf16 autocast.

`PartialConvUNet` is the paper's network (its §3.2): an encoder of stride-2 partial convs (7x7, 5x5, 5x5,
then 3x3; widths base·2^i capped at `max_channels`; ReLU; batch norm except on the first layer), and a
decoder that upsamples features and mask by nearest neighbour ×2, concatenates them with the encoder's
skip features and mask (the last decoder layer with the input image and its mask), and applies a 3x3/1
partial conv, batch norm and LeakyReLU(0.2) (neither on the last layer, whose output is linear).
`partial=False` builds the same U-Net with plain convolutions and no masks (the denoiser).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .norms import check_norm, conv_bias, make_norm
from .padding import AxisModes, PaddedConv2d, pad2d, resolve_axis_modes, same_padding

ENCODER_KERNELS = (7, 5, 5)  # the paper's first three encoder kernels; every deeper one is 3x3


class PartialConv2d(nn.Conv2d):
    """k x k partial convolution: forward(x (B, C_in, H, W), mask (B, 1|C_in, H, W)) -> (x' (B, C_out, H',
    W'), m' (B, 1, H', W')), H' = floor((H + 2p − k)/stride) + 1, p = (k − 1) // 2 (module docstring)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, *, stride: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", axis_modes: AxisModes | None = None,
                 periodic_axes: Sequence[int] | None = None):
        super().__init__(c_in, c_out, kernel, stride=stride, padding=0, bias=bias)
        self.axis_modes = resolve_axis_modes(padding_mode, axis_modes, periodic_axes)
        self.pad = same_padding(kernel)
        self.register_buffer("window", torch.ones(1, 1, kernel, kernel), persistent=False)

    def mask_sums(self, mask: Tensor) -> Tensor:
        """sum(M) per output position, (B, 1, H', W') float32: channels summed, then a k x k box sum."""
        with torch.autocast(mask.device.type, enabled=False):
            m = mask.float()
            m = m.sum(1, keepdim=True) if m.shape[1] > 1 else m * float(self.in_channels)  # (B, 1, H, W)
            return F.conv2d(pad2d(m, self.pad, self.axis_modes), self.window.float(), stride=self.stride)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        if mask.shape[1] not in (1, self.in_channels) or mask.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"PartialConv2d: mask {tuple(mask.shape)} does not fit input {tuple(x.shape)}; "
                             f"give (B, 1, H, W) or (B, {self.in_channels}, H, W)")
        raw = F.conv2d(pad2d(x * mask.to(x.dtype), self.pad, self.axis_modes), self.weight, None, self.stride)
        sums = self.mask_sums(mask)  # (B, 1, H', W')
        known = sums > 0
        full = float(self.in_channels * self.kernel_size[0] * self.kernel_size[1])  # sum(1)
        ratio = torch.where(known, full / sums.clamp(min=1.0), torch.zeros_like(sums))  # (B, 1, H', W')
        out = raw * ratio.to(raw.dtype)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1).to(out.dtype) * known.to(out.dtype)
        return out, known.float()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, pad={self.pad}, axis_modes={self.axis_modes}"


def encoder_kernel(level: int) -> int:
    """Kernel of encoder level `level` (0 = the input layer): 7, 5, 5, then 3 (the paper's)."""
    return ENCODER_KERNELS[level] if level < len(ENCODER_KERNELS) else 3


def unet_widths(depth: int, base: int, max_channels: int) -> list[int]:
    """Channels of the encoder levels: base · 2^i capped at max_channels (the paper: 64 … 512)."""
    return [min(base * 2 ** i, max_channels) for i in range(depth)]


class _Layer(nn.Module):
    """conv (partial or plain) -> norm -> activation; forward(x, mask|None) -> (x', mask'|None)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, *, partial: bool, norm: str,
                 act: Optional[nn.Module], modes: tuple[str, str]):
        super().__init__()
        bias = conv_bias(norm)
        conv_cls = PartialConv2d if partial else PaddedConv2d
        self.conv = conv_cls(c_in, c_out, kernel, stride=stride, axis_modes=modes, bias=bias)
        self.norm = make_norm(norm, c_out)
        self.act = act if act is not None else nn.Identity()
        self.partial = partial

    def forward(self, x: Tensor, mask: Optional[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        if self.partial:
            x, mask = self.conv(x, mask)
        else:
            x = self.conv(x)
        return self.act(self.norm(x)), mask


class PartialConvUNet(nn.Module):
    """The partial-convolution U-Net (module docstring): (B, C_in, H, W) [+ mask (B, 1|C_in, H, W)] ->
    (B, C_out, H, W), H and W divisible by 2**depth.

    Keyword arguments: `depth` encoder levels (the paper: 8 on 512 px), `base` channels at the first level
    doubled per level up to `max_channels` (64, 512), `norm` after every layer but the first encoder and the
    last decoder layer ('batch', the paper's; 'instance', 'group', 'none'), padding per axis as
    nn/padding.py (periodic axes wrap), `partial` (True: partial convs and masks; False: plain convs).
    The last layer is linear (no norm, no activation); `zero_last` zero-initialises it (a residual head
    then starts at the identity).
    """

    def __init__(self, in_channels: int, out_channels: int, *, depth: int = 5, base: int = 64,
                 max_channels: int = 512, norm: str = "batch", partial: bool = True, padding_mode: str = "zeros",
                 axis_modes: AxisModes | None = None, periodic_axes: Sequence[int] | None = None,
                 zero_last: bool = False):
        super().__init__()
        if depth < 1 or base < 1 or max_channels < 1:
            raise ValueError(f"depth={depth}, base={base}, max_channels={max_channels} are invalid; expected >= 1")
        check_norm(norm)
        modes = resolve_axis_modes(padding_mode, axis_modes, periodic_axes)
        self.depth, self.partial, self.in_channels = depth, partial, in_channels
        widths = unet_widths(depth, base, max_channels)
        self.encoder = nn.ModuleList(
            _Layer(in_channels if i == 0 else widths[i - 1], widths[i], encoder_kernel(i), 2, partial=partial,
                   norm="none" if i == 0 else norm, act=nn.ReLU(), modes=modes) for i in range(depth))
        skips = [in_channels, *widths[:-1]]  # what decoder level i concatenates: the input, then e_1 ...
        self.decoder = nn.ModuleList(
            _Layer(widths[i] + skips[i], out_channels if i == 0 else widths[i - 1], 3, 1, partial=partial,
                   norm="none" if i == 0 else norm, act=None if i == 0 else nn.LeakyReLU(0.2), modes=modes)
            for i in range(depth))
        if zero_last:
            nn.init.zeros_(self.decoder[0].conv.weight)
            if self.decoder[0].conv.bias is not None:
                nn.init.zeros_(self.decoder[0].conv.bias)

    @property
    def multiple(self) -> int:
        """H and W must be multiples of this (2**depth)."""
        return 2 ** self.depth

    @property
    def context(self) -> int:
        """Receptive radius in input pixels: Σ_i 2^i ((k_i − 1)/2 + 1) over the encoder (k_i) and decoder
        (3x3) levels, plus 2^depth for the nearest-neighbour upsampling — the context a tile needs."""
        return sum(2 ** i * ((encoder_kernel(i) - 1) // 2 + 1) for i in range(self.depth)) + 2 ** self.depth

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        h, w = x.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"PartialConvUNet(depth={self.depth}) needs H and W divisible by {self.multiple}, "
                             f"got {h}x{w}")
        if self.partial and mask is None:
            raise ValueError("a partial-convolution U-Net needs a mask (1 = known, 0 = hole)")
        m = mask.to(x.dtype) if self.partial else None
        feats, masks = [x], [m]
        for layer in self.encoder:
            x, m = layer(x, m)  # e_{i+1}: (B, w_i, H / 2^(i+1), W / 2^(i+1)), mask (B, 1, ...)
            feats.append(x)
            masks.append(m)
        for i in reversed(range(self.depth)):
            up = F.interpolate(x, scale_factor=2, mode="nearest")  # (B, c, H / 2^i, W / 2^i)
            skip = feats[i]
            x = torch.cat([up, skip.to(up.dtype)], 1)  # (B, c + c_skip, H / 2^i, W / 2^i)
            if self.partial:
                m_up = F.interpolate(m, scale_factor=2, mode="nearest")  # (B, 1, H / 2^i, W / 2^i)
                ms = masks[i]
                m = torch.cat([m_up.expand(-1, up.shape[1], -1, -1),
                               ms.to(m_up.dtype).expand(-1, skip.shape[1], -1, -1)], 1)  # (B, c + c_skip, ...)
            x, m = self.decoder[i](x, m)  # (B, w_{i-1} or C_out, H / 2^i, W / 2^i)
        return x
