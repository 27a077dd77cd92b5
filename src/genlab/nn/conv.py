"""Size-generic convolutional encoder/decoder pairs (28, 32, 64 px; 8 px digits; 1 or 3 channels).

The spatial size is halved by stride-2 convolutions while it is even and larger than 4
(28 -> 14 -> 7, 32 -> 16 -> 8 -> 4, 8 -> 4); channel width doubles at each halving.
"""
from __future__ import annotations

from torch import Tensor, nn


def downsample_plan(size: int, max_stages: int = 4) -> list[int]:
    """Spatial sizes after each stride-2 stage, e.g. 28 -> [14, 7]."""
    sizes = []
    while size % 2 == 0 and size > 4 and len(sizes) < max_stages:
        size //= 2
        sizes.append(size)
    return sizes


class ConvEncoder(nn.Module):
    """(B, C, H, W) -> (B, out_dim): stride-2 conv stages, then a linear head."""

    def __init__(self, in_ch: int, size: int, out_dim: int, base: int = 32, act=nn.SiLU):
        super().__init__()
        plan = downsample_plan(size)
        layers: list[nn.Module] = [nn.Conv2d(in_ch, base, 3, padding=1), act()]
        ch = base
        for i, _ in enumerate(plan):
            nxt = base * 2 ** (i + 1) if i < 2 else ch
            layers += [nn.Conv2d(ch, nxt, 4, stride=2, padding=1), act(),
                       nn.Conv2d(nxt, nxt, 3, padding=1), act()]
            ch = nxt
        self.features = nn.Sequential(*layers)
        side = plan[-1] if plan else size
        self.flat = ch * side * side
        self.head = nn.Linear(self.flat, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)  # (B, ch, s, s)
        return self.head(h.flatten(1))  # (B, ch*s*s) -> (B, out_dim)


class ConvDecoder(nn.Module):
    """(B, in_dim) -> (B, out_ch, size, size): linear to (ch, s, s), then stride-2 transposed convs."""

    def __init__(self, in_dim: int, out_ch: int, size: int, base: int = 32, act=nn.SiLU):
        super().__init__()
        plan = downsample_plan(size)
        chans = [base * 2 ** min(i + 1, 2) for i in range(len(plan))]  # encoder widths per stage
        self.ch0 = chans[-1] if chans else base
        self.side = plan[-1] if plan else size
        self.fc = nn.Sequential(nn.Linear(in_dim, self.ch0 * self.side * self.side), act())
        layers: list[nn.Module] = []
        ch = self.ch0
        for i in reversed(range(len(plan))):
            nxt = chans[i - 1] if i > 0 else base
            layers += [nn.Conv2d(ch, ch, 3, padding=1), act(),
                       nn.ConvTranspose2d(ch, nxt, 4, stride=2, padding=1), act()]
            ch = nxt
        layers.append(nn.Conv2d(ch, out_ch, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.fc(z).view(-1, self.ch0, self.side, self.side)  # (B, ch0, s, s)
        return self.net(h)  # (B, out_ch, size, size)
