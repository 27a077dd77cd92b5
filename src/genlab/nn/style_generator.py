"""The StyleGAN2 generator with skip outputs: z -> w = f(z) -> per-layer styles -> image.

Synthesis for an output side R = 2^m (layers listed with the index of the style w_i they read):

    4×4:   const -> StyledLayer (w_0) ----------------------------------> toRGB (w_1) = img
    r = 8 … R (block k = 1 … m−2):
           x -> StyledLayer ↑2 (w_{2k−1}) -> StyledLayer (w_{2k}) -> img = up(img) + toRGB(x) (w_{2k+1})

so there are L = 2m − 2 style inputs (StyleGAN2's num_ws; toRGB of a block shares its w with the next
block's first conv). Style i acts at resolution res_i = min(4 · 2^⌈i/2⌉, R): for R = 32,
res = (4, 8, 8, 16, 16, 32, 32, 32).

Truncation (Karras et al. 2019, §3 "truncation trick"):  w' = w̄ + ψ (w − w̄), with w̄ tracked during
training as an exponential average of the mapping's outputs (w̄ ← β w̄ + (1 − β) mean_B(w), β = 0.995).

Style-mixing regularisation (Karras et al. 2019, §3.1): with probability p per sample, a second latent
z₂ is mapped and its w₂ replaces w₁ from a crossover index c_b ~ U{1, …, L−1} on:
ws[b, i] = w₁[b] for i < c_b, w₂[b] for i ≥ c_b.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor, nn

from .style import ConstantInput, MappingNetwork, StyledLayer, ToRGB, upsample2x


def style_resolutions(size: int) -> tuple[int, ...]:
    """Resolution at which each of the L = 2·log2(size) − 2 style inputs acts (see the module doc)."""
    n_ws = 2 * (size.bit_length() - 1) - 2
    return tuple(min(4 * 2 ** ((i + 1) // 2), size) for i in range(n_ws))


def mix_styles(w1: Tensor, w2: Tensor, cutoff: Tensor, n_ws: int) -> Tensor:
    """ws[b, i] = w1[b] if i < cutoff[b] else w2[b]: (B, D), (B, D), (B,) -> (B, L, D)."""
    take2 = torch.arange(n_ws, device=w1.device)[None, :] >= cutoff[:, None]  # (B, L)
    return torch.where(take2[:, :, None], w2[:, None, :], w1[:, None, :])  # (B, L, D)


class SynthesisNetwork(nn.Module):
    """ws (B, L, D) -> image (B, C, R, R) in model space (linear output). width(r): channels at side r."""

    def __init__(self, *, size: int, channels: int, w_dim: int, width: Callable[[int], int],
                 mode: str = "grouped"):
        super().__init__()
        if size < 4 or size & (size - 1):
            raise ValueError(f"synthesis size {size} must be a power of two >= 4")
        self.size = size
        self.n_ws = 2 * (size.bit_length() - 1) - 2
        self.const = ConstantInput(width(4))
        self.layers = nn.ModuleList([StyledLayer(width(4), width(4), w_dim, 4, mode=mode)])
        self.to_rgb = nn.ModuleList([ToRGB(width(4), channels, w_dim, mode=mode)])
        r = 8
        while r <= size:
            self.layers.append(StyledLayer(width(r // 2), width(r), w_dim, r, up=True, mode=mode))
            self.layers.append(StyledLayer(width(r), width(r), w_dim, r, mode=mode))
            self.to_rgb.append(ToRGB(width(r), channels, w_dim, mode=mode))
            r *= 2

    def forward(self, ws: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        x = self.const(ws.shape[0])
        x = self.layers[0](x, ws[:, 0], generator)
        img = self.to_rgb[0](x, ws[:, 1])
        for k in range(1, len(self.to_rgb)):
            x = self.layers[2 * k - 1](x, ws[:, 2 * k - 1], generator)
            x = self.layers[2 * k](x, ws[:, 2 * k], generator)
            img = upsample2x(img) + self.to_rgb[k](x, ws[:, 2 * k + 1])
        return img


class StyleGenerator(nn.Module):
    """Mapping + synthesis + the tracked w̄ (buffer `w_avg`, saved with the weights).

    forward(z) for training and sampling, forward(ws=...) to synthesise given styles (explore, PPL):
      z (B, D) latents, or ws (B, D) one w for every layer / (B, L, D) one per layer;
      generator: per-pixel noise and mixing draws come from it; None = the fixed noise maps, no mixing;
      psi: truncation ψ toward w̄ (applied to mapped z only); mix_prob: style-mixing probability per
      sample; track: update w̄ from this batch; return_ws: also return the styles used (B, L, D).
    """

    def __init__(self, *, latent_dim: int, mapping_layers: int, mapping_lr_mul: float, size: int,
                 channels: int, width: Callable[[int], int], mode: str = "grouped", w_avg_beta: float = 0.995):
        super().__init__()
        self.latent_dim, self.w_avg_beta = latent_dim, w_avg_beta
        self.mapping = MappingNetwork(latent_dim, mapping_layers, lr_mul=mapping_lr_mul)
        self.synthesis = SynthesisNetwork(size=size, channels=channels, w_dim=latent_dim, width=width, mode=mode)
        self.n_ws = self.synthesis.n_ws
        self.register_buffer("w_avg", torch.zeros(latent_dim))

    def truncate(self, w: Tensor, psi: float) -> Tensor:
        """w' = w̄ + ψ (w − w̄)."""
        return w if psi == 1 else self.w_avg.to(w.dtype).lerp(w, psi)

    def forward(self, z: Optional[Tensor] = None, *, ws: Optional[Tensor] = None,
                generator: Optional[torch.Generator] = None, psi: float = 1.0, mix_prob: float = 0.0,
                track: bool = False, return_ws: bool = False):
        if ws is None:
            w = self.mapping(z)
            if track:
                with torch.no_grad():
                    self.w_avg.lerp_(w.detach().float().mean(0), 1.0 - self.w_avg_beta)
            ws = self.truncate(w, psi).unsqueeze(1).expand(-1, self.n_ws, -1)  # (B, D) -> (B, L, D)
            if mix_prob > 0 and generator is not None and self.n_ws > 1:
                ws = self._mix(z, w, ws, psi, mix_prob, generator)
        elif ws.dim() == 2:
            ws = ws.unsqueeze(1).expand(-1, self.n_ws, -1)  # (B, D) -> (B, L, D)
        img = self.synthesis(ws, generator)
        return (img, ws) if return_ws else img

    def _mix(self, z: Tensor, w: Tensor, ws: Tensor, psi: float, prob: float, generator) -> Tensor:
        b, dev = z.shape[0], generator.device
        z2 = torch.randn(z.shape, generator=generator, device=dev).to(z.device, z.dtype)
        w2 = self.truncate(self.mapping(z2), psi)
        cutoff = torch.randint(1, self.n_ws, (b,), generator=generator, device=dev).to(z.device)
        keep = torch.rand((b,), generator=generator, device=dev).to(z.device) >= prob
        cutoff = torch.where(keep, torch.full_like(cutoff, self.n_ws), cutoff)  # no mixing: c = L
        return mix_styles(ws[:, 0], w2.to(ws.dtype), cutoff, self.n_ws)
