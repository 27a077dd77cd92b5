"""Differentiable augmentation of the discriminator's inputs, fixed (DiffAugment, Zhao et al. 2020) or
adaptive (ADA, Karras et al. 2020), for GANs trained on little data.

Every input of D — real and fake, in the D, G and R1 phases — goes through the same random, differentiable
transformation T, so D learns on T(x) and G's gradient flows back through T (a transformation that does not
"leak" into the generated distribution as long as it is invertible in distribution). Operations, each
applied to each sample independently with probability p (images in model space [−1, 1]):

    color:        brightness x + (u − ½); saturation (RGB only) (x − x̄_c)·2u + x̄_c;
                  contrast (x − x̄)·(u + ½) + x̄,             u ~ U[0, 1) per sample and operation
    translation:  integer shift by up to ⅛ of the side in x and y, zeros filled in
    cutout:       a square of half the side set to 0, centred uniformly at random

Modes: none; diffaugment (p fixed, 1 by default, as DiffAugment); ada: p starts at p₀ (0) and every
`interval` steps follows the overfitting signal of the reals seen since the last adjustment,

    r_t = E[sign(D(x_real))],     p ← clip(p + sign(r_t − target) · N / (kimg · 1000), 0, 1),

N = real images seen in that interval, so at full speed p goes 0 → 1 in `kimg` thousand images (ADA:
target 0.6, interval 4, 500 kimg). p, the running sums and r_t are buffers: they are saved with the
weights, so a resumed run continues bit-exactly. Under DDP each process adapts p from its own shard.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ..base import rand

OPS = ("color", "translation", "cutout")
MODES = ("none", "diffaugment", "ada")


def _u(x: Tensor, generator) -> Tensor:
    return rand((x.shape[0], 1, 1, 1), generator=generator, device=x.device, dtype=torch.float32).to(x.dtype)


def color(x: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    """Brightness, saturation (3 channels), contrast, each with its own u per sample."""
    x = x + (_u(x, generator) - 0.5)
    if x.shape[1] == 3:
        m = x.mean(dim=1, keepdim=True)
        x = (x - m) * (_u(x, generator) * 2) + m
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * (_u(x, generator) + 0.5) + m


def translation(x: Tensor, generator: Optional[torch.Generator], ratio: float = 0.125) -> Tensor:
    """out[b, :, i, j] = x[b, :, i − t_y, j − t_x] (0 outside), t ~ U{−r, …, r}, r = round(ratio · side)."""
    b, c, h, w = x.shape
    r = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    dev = generator.device if generator is not None else x.device
    ty = torch.randint(-r[0], r[0] + 1, (b,), generator=generator, device=dev).to(x.device)
    tx = torch.randint(-r[1], r[1] + 1, (b,), generator=generator, device=dev).to(x.device)
    padded = torch.nn.functional.pad(x, (r[1], r[1], r[0], r[0]))  # (B, C, H + 2r, W + 2r)
    rows = torch.arange(h, device=x.device)[None, :, None] - ty[:, None, None] + r[0]  # (B, H, 1)
    cols = torch.arange(w, device=x.device)[None, None, :] - tx[:, None, None] + r[1]  # (B, 1, W)
    bi = torch.arange(b, device=x.device)[:, None, None]  # (B, 1, 1)
    return padded.permute(0, 2, 3, 1)[bi, rows, cols].permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)


def cutout(x: Tensor, generator: Optional[torch.Generator], ratio: float = 0.5) -> Tensor:
    """x with a square of side round(ratio · side) set to 0; its top-left corner c − side/2, c uniform."""
    b, _, h, w = x.shape
    s = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dev = generator.device if generator is not None else x.device
    cy = torch.randint(0, h + 1 - s[0] % 2, (b,), generator=generator, device=dev).to(x.device) - s[0] // 2
    cx = torch.randint(0, w + 1 - s[1] % 2, (b,), generator=generator, device=dev).to(x.device) - s[1] // 2
    i = torch.arange(h, device=x.device)[None, :, None]  # (1, H, 1)
    j = torch.arange(w, device=x.device)[None, None, :]  # (1, 1, W)
    inside = ((i >= cy[:, None, None]) & (i < cy[:, None, None] + s[0]) &
              (j >= cx[:, None, None]) & (j < cx[:, None, None] + s[1]))  # (B, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)  # (B, 1, H, W) mask


FUNCTIONS = {"color": color, "translation": translation, "cutout": cutout}


def parse_ops(spec: str) -> tuple[str, ...]:
    """'color,translation' -> ('color', 'translation'); unknown names are a ValueError."""
    ops = tuple(o.strip() for o in spec.split(",") if o.strip())
    bad = [o for o in ops if o not in OPS]
    if bad or not ops:
        raise ValueError(f"model.augment_ops={spec!r} is invalid; expected a comma-separated subset of "
                         f"{','.join(OPS)}")
    return ops


class Augment(nn.Module):
    """T(x) with per-sample probability p per operation, and the ADA controller of p (see the module doc)."""

    def __init__(self, mode: str = "none", ops: str = "color,translation,cutout", *, p: float = -1.0,
                 target: float = 0.6, interval: int = 4, kimg: float = 100.0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"model.augment={mode!r} is invalid; expected one of {', '.join(MODES)}")
        self.mode, self.ops = mode, parse_ops(ops)
        self.target, self.interval, self.kimg = target, interval, kimg
        p0 = (1.0 if mode == "diffaugment" else 0.0) if p < 0 else p
        self.register_buffer("p", torch.tensor(float(p0)))
        self.register_buffer("rt", torch.zeros(()))  # r_t of the last interval (logged)
        self.register_buffer("sign_sum", torch.zeros((), dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("last_step", torch.tensor(-1, dtype=torch.int64))

    def forward(self, x: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        if self.mode == "none":
            return x
        p = float(self.p)  # one host read per D input (ADA changes p between steps)
        if p <= 0:
            return x
        for name in self.ops:
            out = FUNCTIONS[name](x, generator)
            if p < 1:
                on = rand((x.shape[0], 1, 1, 1), generator=generator, device=x.device) < p  # (B, 1, 1, 1)
                out = torch.where(on, out, x)
            x = out
        return x

    @torch.no_grad()
    def observe(self, real_logits: Tensor) -> None:
        """Accumulate sign(D(x_real)) of this batch's reals (logits (B,))."""
        self.sign_sum += real_logits.detach().double().sign().sum()
        self.count += real_logits.numel()

    @torch.no_grad()
    def adjust(self, step: int) -> None:
        """At steps divisible by `interval` (once per step): r_t from the reals seen since the last
        adjustment, then (ada) p ← clip(p + sign(r_t − target) · N / (kimg·1000), 0, 1)."""
        if step % self.interval or int(self.last_step) == step or float(self.count) == 0:
            return
        rt = self.sign_sum / self.count
        self.rt.copy_(rt.float())
        if self.mode == "ada":
            delta = torch.sign(rt - self.target) * self.count / (self.kimg * 1000.0)
            self.p.copy_((self.p.double() + delta).clamp(0.0, 1.0).float())
        self.sign_sum.zero_()
        self.count.zero_()
        self.last_step.fill_(step)
