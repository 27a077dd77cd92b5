"""Invertible layers for normalising flows (RealNVP: Dinh et al. 2017; Glow: Kingma & Dhariwal 2018).

Change of variables: for an invertible f with z = f(x),
    log p_X(x) = log p_Z(f(x)) + log |det ∂f/∂x|.
Every layer maps (B, C, H, W) -> (B, C', H', W') and returns (y, logdet) with logdet (B,) in nats;
`inverse(y)` undoes it exactly. Vectors (B, D) are handled as (B, D, 1, 1) images by the models.
The invertible arithmetic runs in float32 (only the coupling networks may run under bf16 autocast).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FlowLayer(nn.Module):
    """An invertible map with a tractable log-determinant."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - interface
        raise TypeError(f"{type(self).__name__} must define forward")

    def inverse(self, y: Tensor) -> Tensor:  # pragma: no cover - interface
        raise TypeError(f"{type(self).__name__} must define inverse")


class Squeeze(FlowLayer):
    """Space-to-depth: (B, C, H, W) -> (B, 4C, H/2, W/2); a permutation, so log|det| = 0."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        b, c, h, w = x.shape
        y = x.view(b, c, h // 2, 2, w // 2, 2)  # (B, C, H/2, 2, W/2, 2)
        y = y.permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)  # (B, 4C, H/2, W/2)
        return y, x.new_zeros(b, dtype=torch.float32)

    def inverse(self, y: Tensor) -> Tensor:
        b, c4, h, w = y.shape
        x = y.view(b, c4 // 4, 2, 2, h, w)  # (B, C, 2, 2, H/2, W/2)
        return x.permute(0, 1, 4, 2, 5, 3).reshape(b, c4 // 4, 2 * h, 2 * w)  # (B, C, H, W)


class ActNorm(FlowLayer):
    """Per-channel affine y = (x + b) ⊙ exp(s); log|det| = H·W·Σ_c s_c.

    Data-dependent initialisation (Glow): on the first training forward, b = −mean and
    s = −log std of that batch, so the output starts with zero mean and unit variance per channel.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.uint8))

    @torch.no_grad()
    def _init(self, x: Tensor) -> None:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True, unbiased=False) if x.numel() > x.shape[1] else torch.ones_like(mean)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std.clamp(min=1e-3)))
        self.initialized.fill_(1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.float()
        if self.training and not bool(self.initialized):
            self._init(x)
        y = (x + self.bias) * torch.exp(self.log_scale)
        logdet = self.log_scale.sum() * x.shape[2] * x.shape[3]
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        return y.float() * torch.exp(-self.log_scale) - self.bias


class InvConv1x1(FlowLayer):
    """Invertible 1×1 convolution y = W x per pixel (a learned channel permutation); log|det| =
    H·W·log|det W|. With lu=True, W = P L (U + diag(sign(s) exp(log|s|))) so log|det W| = Σ log|s|
    costs O(C) instead of O(C³). W starts as a random rotation."""

    def __init__(self, channels: int, *, lu: bool = True):
        super().__init__()
        self.lu = lu
        w = torch.linalg.qr(torch.randn(channels, channels))[0]  # random orthogonal start
        if not lu:
            self.weight = nn.Parameter(w)
            return
        p, low, up = torch.linalg.lu(w)
        s = torch.diagonal(up)
        self.register_buffer("perm", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.lower = nn.Parameter(low)
        self.upper = nn.Parameter(torch.triu(up, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def _weight(self) -> tuple[Tensor, Tensor]:
        if not self.lu:
            return self.weight, torch.linalg.slogdet(self.weight.double())[1].float()
        eye = torch.eye(len(self.log_s), device=self.log_s.device)
        low = self.lower * self.lower_mask + eye
        up = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.perm @ low @ up, self.log_s.sum()

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        with torch.autocast(x.device.type, enabled=False):
            w, logdet_w = self._weight()
            y = F.conv2d(x.float(), w.view(*w.shape, 1, 1))  # (B, C, H, W)
        return y, (logdet_w * x.shape[2] * x.shape[3]).expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        with torch.autocast(y.device.type, enabled=False):
            w, _ = self._weight()
            w_inv = torch.linalg.inv(w.double()).float()
            return F.conv2d(y.float(), w_inv.view(*w_inv.shape, 1, 1))


def coupling_net(c_in: int, c_out: int, hidden: int, kernel: int) -> nn.Sequential:
    """conv k×k -> ReLU -> conv 1×1 -> ReLU -> zero-initialised conv k×k (the flow starts as identity)."""
    last = nn.Conv2d(hidden, c_out, kernel, padding=kernel // 2)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Conv2d(c_in, hidden, kernel, padding=kernel // 2), nn.ReLU(),
                         nn.Conv2d(hidden, hidden, 1), nn.ReLU(), last)


class AffineCoupling(FlowLayer):
    """Affine coupling (RealNVP): with a binary mask b, x_a = b ⊙ x conditions the rest,
        y = x_a + (1 − b) ⊙ (x ⊙ exp(s(x_a)) + t(x_a)),   log|det| = Σ (1 − b) ⊙ s(x_a),
    s = scale · tanh(raw) (bounded for stability). mask='checkerboard' alternates pixels by (i + j) parity;
    mask='channel' splits channels in halves. `parity` picks which half is transformed.
    """

    def __init__(self, channels: int, hidden: int, *, mask: str, parity: int, kernel: int = 3):
        super().__init__()
        if mask not in ("checkerboard", "channel"):
            raise ValueError(f"mask={mask!r} is invalid; expected checkerboard or channel")
        if mask == "channel" and channels < 2:
            raise ValueError("a channel coupling needs at least 2 channels; squeeze first")
        self.mask_kind, self.parity = mask, parity
        self.c_keep = channels // 2 if mask == "channel" else channels
        c_change = channels - self.c_keep if mask == "channel" else channels
        self.net = coupling_net(self.c_keep, 2 * c_change, hidden, kernel)
        self.scale = nn.Parameter(torch.ones(1, c_change, 1, 1))

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(conditioning input, part to change, 0/1 mask of the changed part broadcastable to it)."""
        if self.mask_kind == "checkerboard":
            h, w = x.shape[2:]
            ii, jj = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device),
                                    indexing="ij")
            change = ((ii + jj) % 2 == self.parity).to(x.dtype).view(1, 1, h, w)  # (1, 1, H, W)
            return x * (1 - change), x, change
        xs = x.flip(1) if self.parity else x  # parity 1: condition on the other half
        return xs[:, :self.c_keep], xs[:, self.c_keep:], x.new_ones(())

    def _merge(self, x_keep: Tensor, y_change: Tensor, x: Tensor) -> Tensor:
        if self.mask_kind == "checkerboard":
            return y_change
        y = torch.cat([x_keep, y_change], 1)  # (B, C, H, W) in the split order
        return y.flip(1) if self.parity else y

    def _st(self, x_keep: Tensor) -> tuple[Tensor, Tensor]:
        st = self.net(x_keep).float()
        s_raw, t = st.chunk(2, 1)  # (B, 2C', H, W) -> 2 x (B, C', H, W)
        return self.scale * torch.tanh(s_raw), t

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.float()
        x_keep, x_change, change = self._split(x)
        s, t = self._st(x_keep)
        s, t = s * change, t * change
        y_change = x_change * torch.exp(s) + t
        return self._merge(x_keep, y_change, x), s.flatten(1).sum(1)

    def inverse(self, y: Tensor) -> Tensor:
        y = y.float()
        y_keep, y_change, change = self._split(y)
        s, t = self._st(y_keep)
        s, t = s * change, t * change
        return self._merge(y_keep, (y_change - t) * torch.exp(-s), y)
