"""RealNVP (Dinh, Sohl-Dickstein & Bengio 2017): affine coupling layers in a multi-scale architecture.

Coupling: y = b ⊙ x + (1 − b) ⊙ (x ⊙ exp(s(b ⊙ x)) + t(b ⊙ x)),  log|det| = Σ (1 − b) ⊙ s(b ⊙ x).
Per scale (all but the last): 3 checkerboard couplings (alternating masks) -> squeeze -> 3 channel
couplings (alternating halves) -> factor out half the channels; the last scale: 4 checkerboard
couplings. `checkerboard=packed` runs each checkerboard coupling's network on the kept pixels packed
into a half-width image instead of the masked full image (half the convolution work; the layout of
the normflows package); the default `masked` is the paper's. Differences from the paper, for a small
CPU budget: plain conv coupling networks instead of ResNets, and ActNorm after each coupling in place
of batch normalisation (a fixed function at test time). Vectors (toys) use `couplings` alternating
channel couplings with 1×1 (= MLP) networks.
See `multiscale.py` for dequantisation, the logit preprocessing and its Jacobian.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import GenlabError
from ...registry import register_model
from .layers import ActNorm, AffineCoupling, FlowLayer, Squeeze
from .multiscale import FlowModel


@dataclass
class RealNVPConfig:
    hidden: int = 64  # channels of the coupling networks
    scales: int = 2  # images only (vectors: one scale)
    couplings: int = 3  # couplings per half-scale (vectors: total couplings = 2 * couplings)
    actnorm: bool = True  # activation normalisation (data-initialised scale and shift) before each coupling
    checkerboard: str = "masked"  # masked (the paper: network on b ⊙ x) | packed (kept pixels packed, as normflows)
    preprocess: str = "logit"  # logit (with its Jacobian in the density) | none (y − 0.5)
    alpha: float = 0.05  # logit(α + (1 − 2α) y)
    dequantization: str = "uniform"  # uniform | variational (noise added to discrete pixels: U[0, 1) or a learned flow)
    temperature: float = 1.0  # sampling: z ~ N(0, T² I)

    def __post_init__(self):
        check_flow_config(self)
        if self.couplings < 1:
            raise ValueError(f"model.couplings={self.couplings} is invalid; expected >= 1")
        if self.checkerboard not in ("masked", "packed"):
            raise ValueError(f"model.checkerboard={self.checkerboard!r} is invalid; expected masked or packed")


def check_flow_config(cfg) -> None:
    """Validation shared by the flow configs."""
    if cfg.hidden < 1:
        raise ValueError(f"model.hidden={cfg.hidden} is invalid; expected >= 1")
    if cfg.scales < 1:
        raise ValueError(f"model.scales={cfg.scales} is invalid; expected >= 1")
    if cfg.preprocess not in ("logit", "none"):
        raise ValueError(f"model.preprocess={cfg.preprocess!r} is invalid; expected logit or none")
    if not 0 < cfg.alpha < 0.5:
        raise ValueError(f"model.alpha={cfg.alpha} is invalid; expected 0 < alpha < 0.5")
    if cfg.dequantization not in ("uniform", "variational"):
        raise ValueError(f"model.dequantization={cfg.dequantization!r} is invalid; expected uniform or variational")
    if cfg.temperature <= 0:
        raise ValueError(f"model.temperature={cfg.temperature} is invalid; expected > 0")


def check_divisible(name: str, h: int, w: int, squeezes: int) -> None:
    if h % 2 ** squeezes or w % 2 ** squeezes:
        raise GenlabError(f"{name} with these scales squeezes {squeezes} time(s), which needs image sides "
                          f"divisible by {2 ** squeezes} (got {h}x{w}); lower model.scales")


@register_model("realnvp", config=RealNVPConfig, family="likelihood",
                help="RealNVP flow: checkerboard/channel affine couplings, multi-scale, exact NLL",
                tiny={"hidden": 8, "couplings": 1}, test_data="digits")
class RealNVP(FlowModel):
    def squeezes(self, k: int) -> bool:
        return not self.vector and k < self.config.scales - 1

    def _coupling(self, c: int, mask: str, parity: int, kernel: int = 3) -> list[FlowLayer]:
        layers: list[FlowLayer] = [AffineCoupling(c, self.config.hidden, mask=mask, parity=parity, kernel=kernel)]
        return layers + ([ActNorm(c)] if self.config.actnorm else [])

    def build_scales(self, c: int, h: int, w: int) -> list[list[FlowLayer]]:
        cfg = self.config
        if self.vector:
            return [[lay for i in range(2 * cfg.couplings) for lay in self._coupling(c, "channel", i % 2, 1)]]
        check_divisible("realnvp", h, w, cfg.scales - 1)
        checker = "packed" if cfg.checkerboard == "packed" else "checkerboard"
        if checker == "packed" and (w // 2 ** (cfg.scales - 1)) % 2:
            raise GenlabError(f"realnvp with model.checkerboard=packed needs an even image width at every scale "
                              f"(the last is {w // 2 ** (cfg.scales - 1)}); use model.checkerboard=masked "
                              f"or fewer model.scales")
        scales = []
        for k in range(cfg.scales):
            if k == cfg.scales - 1:
                last = range(cfg.couplings + 1)  # the last scale: one more checkerboard coupling
                scales.append([lay for i in last for lay in self._coupling(c, checker, i % 2)])
                break
            layers = [lay for i in range(cfg.couplings) for lay in self._coupling(c, checker, i % 2)]
            layers.append(Squeeze())
            c *= 4
            layers += [lay for i in range(cfg.couplings) for lay in self._coupling(c, "channel", i % 2)]
            scales.append(layers)
            c -= c // 2
        return scales
