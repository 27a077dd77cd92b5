"""Super-resolution networks of SRGAN (Ledig et al. 2017, "Photo-realistic single image super-resolution
using a generative adversarial network", fig. 4).

Generator (SRResNet), for an upscaling factor s ∈ {2, 3, 4, 8}:

    x (C_in, h, w) -> 9x9 conv, PReLU                                         (F, h, w)   = u
      -> B x [3x3 conv, BN, PReLU, 3x3 conv, BN, + skip]                      (F, h, w)
      -> 3x3 conv, BN, + u  (the global skip)                                 (F, h, w)
      -> per factor r of s (2·2·… or 3): 3x3 conv to F·r², PixelShuffle(r), PReLU   (F, r h, r w)
      -> 9x9 conv                                                             (C_out, s h, s w)

F = `width` (64), B = `n_blocks` (16). With `bicubic_skip` (not in the paper; VDSR-style global residual)
the output is tail(…) + bicubic(x), the tail initialised to zero, so G starts exactly at bicubic and
learns the missing detail (short CPU trainings beat bicubic sooner). PixelShuffle (Shi et al. 2016,
"sub-pixel convolution") turns (F·r², h, w) into (F, r h, r w): channel c·r² + i·r + j goes to position
(r y + i, r x + j). The output has no activation (regression); callers clamp where pictures are made.
PReLU has one slope per channel.

Discriminator (the paper's VGG-style D): 3x3 conv blocks of widths base, base, 2 base, 2 base, 4 base, …
with strides alternating 1 and 2 (`n_stages` stride-2 convs, 4 in the paper = 8 convs), LeakyReLU 0.2,
batch norm on every conv but the first; then flatten, dense 1024, LeakyReLU 0.2, dense 1 (a logit; the
paper's sigmoid lives in the loss). The dense layer fixes the input size (the training crop size), as in
the paper (96 x 96 -> 6 x 6 x 512). `features(x)` also returns the activation after each stride-2 block
(and after the first conv), the maps SRGAN's discriminator feature-matching content loss compares.

Padding: `padding_mode` (zeros in the paper) with periodic axes wrapped where the field is periodic.
`bicubic_resize` is the resampling convention of genlab's super-resolution (degradation and baseline).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .norms import conv_bias, make_norm
from .padding import PaddedConv2d, resolve_axis_modes

SCALES = {2: (2,), 3: (3,), 4: (2, 2), 8: (2, 2, 2)}  # upscaling factor -> PixelShuffle factors


def bicubic_resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """(B, C, H, W) -> (B, C, h, w) float, the super-resolution convention for both directions (the
    degradation `data.derive=lowres:F` and the bicubic baseline): Keys' cubic kernel with a = −0.5
    (MATLAB's imresize and PIL's BICUBIC; not OpenCV's a = −0.75), widened by H/h when shrinking
    (antialiasing), pixel centres aligned (source (i + ½)·H/h − ½). At the image edges the taps that fall
    outside are dropped and the rest renormalised (PIL's rule; MATLAB mirrors the image instead, so the two
    differ only within about 2·H/h pixels of the border). Not clamped or rounded. Equals PIL's
    `Image.resize(..., BICUBIC)` on float images to ~1e-7 (tests/test_superres.py)."""
    return F.interpolate(x.float(), size=size, mode="bicubic", antialias=True, align_corners=False)


def upscale_factors(scale: int) -> tuple[int, ...]:
    """The PixelShuffle factors whose product is `scale` (ValueError for unsupported scales)."""
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r} is invalid; expected one of {sorted(SCALES)}")
    return SCALES[scale]


class SRResidualBlock(nn.Module):
    """x + BN(conv(PReLU(BN(conv(x))))): (B, F, h, w) -> (B, F, h, w) (SRGAN's residual block)."""

    def __init__(self, width: int, *, norm: str = "batch", axis_modes: tuple[str, str] = ("zeros", "zeros")):
        super().__init__()
        bias = conv_bias(norm)
        self.residual = nn.Sequential(
            PaddedConv2d(width, width, 3, axis_modes=axis_modes, bias=bias), make_norm(norm, width), nn.PReLU(width),
            PaddedConv2d(width, width, 3, axis_modes=axis_modes, bias=bias), make_norm(norm, width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.residual(x)


class SubPixelUpsample(nn.Module):
    """3x3 conv F -> F·r², PixelShuffle(r), PReLU: (B, F, h, w) -> (B, F, r h, r w)."""

    def __init__(self, width: int, factor: int, *, axis_modes: tuple[str, str] = ("zeros", "zeros")):
        super().__init__()
        self.conv = PaddedConv2d(width, width * factor * factor, 3, axis_modes=axis_modes)
        self.shuffle = nn.PixelShuffle(factor)
        self.act = nn.PReLU(width)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.shuffle(self.conv(x)))  # (B, F r², h, w) -> (B, F, r h, r w)


class SRResNetGenerator(nn.Module):
    """SRResNet: (B, in_channels, h, w) -> (B, out_channels, scale·h, scale·w), any h, w (fully
    convolutional; see the module docstring). `context`: its receptive radius in input pixels (how much
    context a tile needs for tiled outputs to equal the whole-image pass; 40 for B = 16 at x4)."""

    def __init__(self, in_channels: int, out_channels: int, *, scale: int = 4, width: int = 64,
                 n_blocks: int = 16, norm: str = "batch", padding_mode: str = "zeros",
                 periodic_axes: Sequence[int] | None = None, bicubic_skip: bool = False):
        super().__init__()
        if bicubic_skip and in_channels != out_channels:
            raise ValueError(f"bicubic_skip needs as many input as output channels, got {in_channels} and "
                             f"{out_channels}")
        self.bicubic_skip = bicubic_skip
        if width < 1 or n_blocks < 0:
            raise ValueError(f"width={width}, n_blocks={n_blocks} are invalid; expected width >= 1, n_blocks >= 0")
        modes = resolve_axis_modes(padding_mode, None, periodic_axes)
        self.scale = scale
        self.head = nn.Sequential(PaddedConv2d(in_channels, width, 9, axis_modes=modes), nn.PReLU(width))
        self.body = nn.Sequential(*[SRResidualBlock(width, norm=norm, axis_modes=modes) for _ in range(n_blocks)],
                                  PaddedConv2d(width, width, 3, axis_modes=modes, bias=conv_bias(norm)),
                                  make_norm(norm, width))
        self.upsample = nn.Sequential(*[SubPixelUpsample(width, r, axis_modes=modes) for r in upscale_factors(scale)])
        self.tail = PaddedConv2d(width, out_channels, 9, axis_modes=modes)
        radius, factor = 4.0 + 2 * n_blocks + 1, 1  # head 9x9, 2 convs per block, body conv (input pixels)
        for r in upscale_factors(scale):
            radius, factor = radius + 1.0 / factor, factor * r  # each sub-pixel conv at its own resolution
        self.context = int(math.ceil(radius + 4.0 / scale))  # + the 9x9 tail at the output resolution
        if bicubic_skip:  # start exactly at bicubic: the network learns the residual detail
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type == "cpu" and not torch.is_grad_enabled():
            # inference (genlab superres, eval): channels-last activations let oneDNN skip a layout copy
            # around every conv — 3.3x faster per 336 px tile in bf16 on an AMX Xeon (0.99 vs 3.28 s);
            # training keeps whatever layout train.channels_last gives it
            x = x.contiguous(memory_format=torch.channels_last)
        u = self.head(x)
        y = self.tail(self.upsample(u + self.body(u)))
        if self.bicubic_skip:
            y = y + bicubic_resize(x, tuple(y.shape[-2:])).to(y.dtype)
        return y


class SRDiscriminator(nn.Module):
    """The paper's VGG-style D for (B, C, H, W) inputs of one fixed size: (B, C, H, W) -> (B, 1) logits.

    H and W must be divisible by 2**n_stages (the flattened map feeds a dense layer)."""

    def __init__(self, in_channels: int, size: tuple[int, int], *, base: int = 64, n_stages: int = 4,
                 dense: int = 1024, norm: str = "batch", padding_mode: str = "zeros",
                 periodic_axes: Sequence[int] | None = None):
        super().__init__()
        h, w = size
        if n_stages < 1 or h % 2 ** n_stages or w % 2 ** n_stages:
            raise ValueError(f"SRDiscriminator with n_stages={n_stages} needs H and W divisible by "
                             f"{2 ** n_stages}, got {h}x{w}")
        modes = resolve_axis_modes(padding_mode, None, periodic_axes)
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.first = nn.Sequential(PaddedConv2d(in_channels, base, 3, axis_modes=modes), act())
        stages, c = [], base
        for i in range(n_stages):
            out = base * 2 ** i
            layers: list[nn.Module] = []
            if i > 0:  # the stride-1 conv that widens (the first stage's is `first`)
                layers += [PaddedConv2d(c, out, 3, axis_modes=modes, bias=conv_bias(norm)), make_norm(norm, out), act()]
            layers += [PaddedConv2d(out, out, 3, stride=2, axis_modes=modes, bias=conv_bias(norm)),
                       make_norm(norm, out), act()]
            stages.append(nn.Sequential(*layers))
            c = out
        self.stages = nn.ModuleList(stages)
        flat = c * (h // 2 ** n_stages) * (w // 2 ** n_stages)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, dense), act(), nn.Linear(dense, 1))
        self.size = (h, w)

    def features(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """(logits (B, 1), [activation after the first conv and after each stride-2 stage])."""
        h = self.first(x)
        feats = [h]
        for stage in self.stages:
            h = stage(h)
            feats.append(h)
        return self.head(h), feats  # Flatten: (B, c, H/2^n, W/2^n) -> (B, c·H·W/4^n)

    def forward(self, x: Tensor, features: bool = False):
        """Logits (B, 1); with features=True, (logits, feature maps) as `features(x)` (through forward, so
        that DDP and compiled wrappers see the call)."""
        return self.features(x) if features else self.features(x)[0]


def pixel_shuffle_reference(x: Tensor, r: int) -> Tensor:
    """PixelShuffle by hand (for tests and the docs): (B, C·r², h, w) -> (B, C, r h, r w) with output
    (c, r y + i, r x + j) = input (c·r² + i·r + j, y, x)."""
    b, cr2, h, w = x.shape
    c = cr2 // (r * r)
    t = x.view(b, c, r, r, h, w)  # (B, C, i, j, h, w)
    return t.permute(0, 1, 4, 2, 5, 3).reshape(b, c, h * r, w * r)  # (B, C, h, i, w, j) -> (B, C, r h, r w)


__all__ = ["bicubic_resize", "SRResNetGenerator", "SRDiscriminator", "SRResidualBlock", "SubPixelUpsample",
           "upscale_factors", "pixel_shuffle_reference", "SCALES"]
