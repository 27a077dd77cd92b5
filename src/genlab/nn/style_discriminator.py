"""The StyleGAN2 residual discriminator (Karras et al. 2020, Fig. 7c), equalised lr throughout.

    x (B, C, R, R) -> fromRGB 1×1 -> [residual block]* down to 4×4 -> minibatch std -> conv 3×3
      -> flatten -> linear -> linear -> (B, 1) logit

residual block (side r -> r/2):  h = conv3×3(avgpool(conv3×3(x))),  skip = conv1×1(avgpool(x)),
                                 out = (h + skip) / √2
Downsampling is a 2×2 box filter (average pooling) before the second conv, where StyleGAN2 blurs with a
[1,3,3,1] FIR filter and uses a strided conv: pure PyTorch, 4× cheaper second conv.

Minibatch standard deviation (Karras et al. 2018, §3): in groups of G samples, the std of every feature
over the group, averaged over features and positions, appended as one constant channel, so D can see a
lack of variety within a batch. G = the largest divisor of the batch that is at most `group`.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .equalized import EqualConv2d, EqualLinear


def group_size(batch: int, group: int) -> int:
    """The largest divisor of `batch` that is at most `group`."""
    return max(g for g in range(1, min(group, batch) + 1) if batch % g == 0)


class MinibatchStd(nn.Module):
    """(B, C, H, W) -> (B, C + 1, H, W): appends the mean within-group std (sample i is in group i mod B/G)."""

    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        g = group_size(b, self.group)
        y = x.float().reshape(g, b // g, c, h, w)  # (B, C, H, W) -> (G, B/G, C, H, W)
        y = (y - y.mean(0)).pow(2).mean(0).add(1e-8).sqrt()  # (B/G, C, H, W) std over each group
        y = y.mean(dim=(1, 2, 3)).reshape(b // g, 1, 1, 1).repeat(g, 1, h, w)  # (B, 1, H, W)
        return torch.cat([x, y.to(x.dtype)], dim=1)  # (B, C + 1, H, W)


class ResidualDown(nn.Module):
    """Residual block r -> r/2 with equalised-lr convs (see the module doc)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = EqualConv2d(in_channels, in_channels, 3, activation=True)
        self.conv2 = EqualConv2d(in_channels, out_channels, 3, activation=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.avg_pool2d(self.conv1(x), 2))
        return (h + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2.0)


class ResidualDiscriminator(nn.Module):
    """(B, C, R, R) in model space -> (B, 1) logits; width(r): channels at side r; R a power of two >= 4."""

    def __init__(self, *, size: int, channels: int, width: Callable[[int], int], mbstd_group: int = 4):
        super().__init__()
        if size < 4 or size & (size - 1):
            raise ValueError(f"discriminator size {size} must be a power of two >= 4")
        self.from_rgb = EqualConv2d(channels, width(size), 1, activation=True)
        blocks, r = [], size
        while r > 4:
            blocks.append(ResidualDown(width(r), width(r // 2)))
            r //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = width(4)
        self.mbstd = MinibatchStd(mbstd_group)
        self.conv = EqualConv2d(c4 + 1, c4, 3, activation=True)
        self.fc = EqualLinear(c4 * 16, c4, activation=True)
        self.out = EqualLinear(c4, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.blocks(self.from_rgb(x))
        h = self.conv(self.mbstd(h)).flatten(1)  # (B, C, 4, 4) -> (B, C*16)
        return self.out(self.fc(h))
