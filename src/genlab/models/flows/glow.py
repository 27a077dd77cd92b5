"""Glow (Kingma & Dhariwal 2018): multi-scale flow of steps [ActNorm -> invertible 1×1 conv -> affine
coupling].

One step:  h = (x + b) ⊙ exp(s)                    log|det| = H·W·Σ s
           h' = W h  (per pixel)                    log|det| = H·W·log|det W|  (= H·W·Σ log|s_i|, LU)
           coupling on channel halves              log|det| = Σ s(x_a)
Per scale: squeeze -> K steps -> factor out half the channels (not after the last scale). ActNorm is
initialised from the first batch. Vectors (toys) use one scale of K steps without squeezing.
See `multiscale.py` for dequantisation, the logit preprocessing and its Jacobian, temperature sampling.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...registry import register_model
from .layers import ActNorm, AffineCoupling, FlowLayer, InvConv1x1, Squeeze
from .multiscale import FlowModel
from .realnvp import check_divisible, check_flow_config


@dataclass
class GlowConfig:
    hidden: int = 64  # channels of the coupling networks
    scales: int = 2  # images only (vectors: one scale)
    steps: int = 8  # K steps of flow per scale
    lu: bool = True  # LU-parametrised 1×1 convolutions
    preprocess: str = "logit"  # logit (with its Jacobian in the density) | none (y − 0.5)
    alpha: float = 0.05  # logit(α + (1 − 2α) y) pre-processing of dequantised pixels
    dequantization: str = "uniform"  # uniform | variational (noise added to discrete pixels: U[0, 1) or a learned flow)
    temperature: float = 1.0  # sampling: z ~ N(0, T² I); Glow's paper samples at T = 0.7

    def __post_init__(self):
        check_flow_config(self)
        if self.steps < 1:
            raise ValueError(f"model.steps={self.steps} is invalid; expected >= 1")


@register_model("glow", config=GlowConfig, family="likelihood",
                help="Glow flow: actnorm, invertible 1x1 conv (LU), affine coupling, multi-scale, exact NLL",
                tiny={"hidden": 8, "steps": 2}, test_data="digits")
class Glow(FlowModel):
    def squeezes(self, k: int) -> bool:
        return not self.vector

    def _step(self, c: int, kernel: int) -> list[FlowLayer]:
        return [ActNorm(c), InvConv1x1(c, lu=self.config.lu),
                AffineCoupling(c, self.config.hidden, mask="channel", parity=0, kernel=kernel)]

    def build_scales(self, c: int, h: int, w: int) -> list[list[FlowLayer]]:
        cfg = self.config
        if self.vector:
            return [[lay for _ in range(cfg.steps) for lay in self._step(c, 1)]]
        check_divisible("glow", h, w, cfg.scales)
        scales = []
        for k in range(cfg.scales):
            c *= 4
            scales.append([Squeeze()] + [lay for _ in range(cfg.steps) for lay in self._step(c, 3)])
            c -= c // 2
        return scales
