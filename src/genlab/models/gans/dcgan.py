"""`dcgan`: the DCGAN architecture (Radford et al. 2016), size-generic (28, 32, 64 px; 8 px digits),
1 or 3 channels, with any registered adversarial loss (`--model.loss=wgan-gp`).

arch=dcgan:   G: z -> linear -> (C0, s, s) -> [ConvT 4x4/2, BN, ReLU]* -> ConvT 4x4/2 -> tanh
              D: [Conv 4x4/2, norm, LeakyReLU 0.2]* -> linear -> 1      (strided convs, no pooling)
              s = the smallest side reached by halving (28 -> 7, 32/64 -> 4), widths doubling per stage.
arch=infogan: the MNIST/Fashion-MNIST networks of Lucic et al. 2018 (compare_gan v1 "infogan" G/D):
              G: z -> FC 1024, BN, ReLU -> FC 128·7·7, BN, ReLU -> ConvT 64 4x4/2, BN, ReLU -> ConvT C 4x4/2
              D: Conv 64 4x4/2, lReLU -> Conv 128 4x4/2, BN, lReLU -> FC 1024, BN, lReLU -> FC 1
              (compare_gan's G ends in a sigmoid on [0, 1]; ours ends in tanh on [−1, 1], the same
              family after the affine map x = (y + 1) / 2.)
D's normalisation `d_norm=auto` is batch norm, except for losses with a gradient penalty (per-example
gradients; Gulrajani et al.), where it is none. `loss=began` replaces D by a conv autoencoder.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ...errors import GenlabError
from ...nn import downsample_plan
from ...registry import register_model
from ..base import DataInfo
from . import began, tricks
from .game import AdversarialConfig, AdversarialModel


@dataclass
class DCGANConfig(AdversarialConfig):
    arch: str = "dcgan"  # dcgan | infogan (Lucic et al.'s MNIST/Fashion-MNIST networks)
    g_channels: int = 64  # width of G's last hidden stage (doubles towards the latent)
    d_channels: int = 64  # width of D's first stage (doubles per stage)
    d_norm: str = "auto"  # auto | batch | layer | none (D's normalisation; auto = none with gradient penalties, else batch)
    ae_code: int = 64  # BEGAN autoencoder bottleneck width

    def __post_init__(self):
        super().__post_init__()
        if self.arch not in ("dcgan", "infogan"):
            raise ValueError(f"model.arch={self.arch!r} is invalid; expected dcgan or infogan")
        if self.d_norm not in ("auto", "batch", "layer", "none"):
            raise ValueError(f"model.d_norm={self.d_norm!r} is invalid; expected auto, batch, layer or none")
        for key in ("g_channels", "d_channels", "ae_code"):
            if getattr(self, key) < 1:
                raise ValueError(f"model.{key}={getattr(self, key)} is invalid; expected >= 1")


class _Unflatten(nn.Module):
    def __init__(self, c: int, s: int):
        super().__init__()
        self.c, self.s = c, s

    def forward(self, h: Tensor) -> Tensor:
        return h.view(h.shape[0], self.c, self.s, self.s)  # (B, C*s*s) -> (B, C, s, s)


def _norm(kind: str, c: int, conv: bool) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm2d(c) if conv else nn.BatchNorm1d(c)]
    if kind == "layer":
        return [nn.GroupNorm(1, c) if conv else nn.LayerNorm(c)]
    return []


def _up(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]


def _down(c_in: int, c_out: int, norm: str) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm == "none"), *_norm(norm, c_out, True),
            nn.LeakyReLU(0.2, True)]


def _out(bounded: bool) -> nn.Module:
    return nn.Tanh() if bounded else nn.Identity()  # physical fields: a linear output in standardised units


def dcgan_networks(cfg: DCGANConfig, channels: int, size: int, norm: str, *,
                   bounded: bool = True) -> tuple[nn.Module, nn.Module]:
    """The Radford et al. G and D for `size` px (G: (B, latent) -> (B, C, size, size) in [−1, 1], or
    unbounded for physical fields)."""
    plan = downsample_plan(size)
    if not plan:
        raise GenlabError(f"dcgan needs images whose side halves at least once (got {size} px); use "
                          "28, 32 or 64 px images")
    s, n = plan[-1], len(plan)
    widths = [cfg.g_channels * 2 ** (n - 1 - i) for i in range(n)]  # e.g. 28 px: [128, 64]
    g_layers: list[nn.Module] = [nn.Linear(cfg.latent_dim, widths[0] * s * s, bias=False),
                                 _Unflatten(widths[0], s), nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
    for a, b in zip(widths[:-1], widths[1:]):
        g_layers += _up(a, b)
    g_layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), _out(bounded)]
    d_layers: list[nn.Module] = [nn.Conv2d(channels, cfg.d_channels, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    c = cfg.d_channels
    for _ in range(n - 1):
        d_layers += _down(c, 2 * c, norm)
        c *= 2
    d_layers += [nn.Flatten(), nn.Linear(c * s * s, 1)]  # (B, c, s, s) -> (B, c*s*s) -> (B, 1)
    return nn.Sequential(*g_layers), nn.Sequential(*d_layers)


def infogan_networks(cfg: DCGANConfig, channels: int, size: int, norm: str, *,
                     bounded: bool = True) -> tuple[nn.Module, nn.Module]:
    """Lucic et al.'s MNIST-family G and D (compare_gan v1 'infogan'), for sides divisible by 4."""
    if size % 4:
        raise GenlabError(f"model.arch=infogan needs an image side divisible by 4 (got {size} px); use "
                          "28 px data (Fashion-MNIST) or model.arch=dcgan")
    s = size // 4
    generator = nn.Sequential(
        nn.Linear(cfg.latent_dim, 1024, bias=False), nn.BatchNorm1d(1024), nn.ReLU(True),
        nn.Linear(1024, 128 * s * s, bias=False), nn.BatchNorm1d(128 * s * s), nn.ReLU(True),
        _Unflatten(128, s), *_up(128, 64), nn.ConvTranspose2d(64, channels, 4, 2, 1), _out(bounded))
    discriminator = nn.Sequential(
        nn.Conv2d(channels, 64, 4, 2, 1), nn.LeakyReLU(0.2, True), *_down(64, 128, norm),
        nn.Flatten(), nn.Linear(128 * s * s, 1024), *_norm(norm, 1024, False),  # (B, 128*s*s)
        nn.LeakyReLU(0.2, True), nn.Linear(1024, 1))
    return generator, discriminator


ARCHS = {"dcgan": dcgan_networks, "infogan": infogan_networks}


@register_model("dcgan", config=DCGANConfig, family="adversarial",
                help="DCGAN (strided convs, BN in G, LeakyReLU in D), 8-64 px; arch=infogan is Lucic et "
                     "al.'s MNIST G/D; any adversarial loss (--model.loss)",
                tiny={"latent_dim": 8, "g_channels": 4, "d_channels": 4, "ae_code": 4}, test_data="digits")
class DCGAN(AdversarialModel):
    # channels_last: 1,008 vs 707 img/s at batch 64 on the 2-core CPU (benchmarks/dcgan_speed.py)
    train_defaults = {"lr": 2e-4, "betas": (0.5, 0.999), "batch_size": 64, "steps": 5000,
                      "log_every": 100, "ckpt_every": 1000, "channels_last": True}

    requires = {"x": ("image", "field")}

    def __init__(self, config: DCGANConfig, data: DataInfo):
        super().__init__(config, data)
        if not data.is_image or data.shape[1] != data.shape[2]:
            raise GenlabError(f"dcgan needs square images, got data of shape {data.shape}; use model gan "
                              "for vectors and 2-D toys")
        channels, size = data.shape[0], data.shape[1]
        norm = self.config.d_norm
        if norm == "auto":
            norm = "none" if self.adv.penalty is not None else "batch"
        self.generator, discriminator = ARCHS[config.arch](config, channels, size, norm, bounded=data.bounded)
        tricks.dcgan_init_(self.generator)
        if self.adv.energy:
            discriminator = began.conv_autoencoder(channels, size, code=config.ae_code,
                                                   base=max(config.d_channels // 2, 1))
        self.discriminator = tricks.dcgan_init_(discriminator) if not self.adv.energy else discriminator
        self._finish()
