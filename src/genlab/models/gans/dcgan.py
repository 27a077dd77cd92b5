"""`dcgan`: the DCGAN architecture (Radford et al. 2016), size-generic (28, 32, 64 px; 8 px digits;
rectangular fields such as 32 x 64 convection snapshots), any number of channels, with any registered
adversarial loss (`--model.loss=wgan-gp`).

arch=dcgan:   G: z -> linear -> (C0, s_H, s_W) -> [ConvT 4x4/2, BN, ReLU]* -> ConvT 4x4/2 -> tanh (images)
                 or linear output (physical fields, standardised units)
              D: [Conv 4x4/2, norm, LeakyReLU 0.2]* -> linear -> 1      (strided convs, no pooling)
              s = the smaller side reached by halving (28 -> 7, 32/64 -> 4; 32 x 64 -> 4 x 8), widths
              doubling per stage.
padding=auto: every conv of G wraps around the data's periodic axes (FieldSpec.periodic, e.g. x of
              convection or longitude) and zero-pads the others, so G's maps are periodic there; D
              zero-pads. padding=periodic wraps D too (exactly shift-equivariant features), but that D
              made G collapse in every try (sample spread across z 0.06-0.10 vs 1.0 with a zero-padded D,
              lognormal maps, docs/science.md), hence not the default. padding=zeros is the original.
shift_augment: D sees each real example circularly shifted by a uniform random amount along the periodic
              axes — exact for statistically homogeneous directions (x of convection, the random fields),
              wrong for longitude of a real climate field (continents), hence off by default.
spectral_weight > 0 (fields): L_G += λ_s · spectral_loss(G(z), x) (losses/spectral.py), the power-spectrum
              term of CosmoGAN-style emulators, as an ablation.
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
from typing import Optional

from torch import Tensor, nn

from ...errors import GenlabError
from ...losses.spectral import spectral_loss
from ...nn import downsample_plan
from ...nn.layout import Flatten, Unflatten
from ...nn.padding import PaddedConv2d, PaddedConvTranspose2d, resolve_axis_modes
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
    padding: str = "auto"  # auto | periodic | zeros (auto = G wraps around the data's periodic axes, D zero-pads; periodic = both wrap, which collapsed G in every try; zeros = torch's layers)
    spectral_weight: float = 0.0  # λ_s of the power-spectrum term on G (fields; 0 = off)
    upsample: str = "transposed"  # transposed (Radford et al.'s 4x4/2 transposed convs) | nearest (nearest-neighbour x2 then a 3x3 conv in every G stage: no checkerboard artefacts, Odena et al. 2016)
    init_from: str = ""  # a dcgan run whose newest weights (G's EMA where present, D's live ones) start this new run: a second training stage with other settings, e.g. spectral_weight > 0 after a plain adversarial stage
    shift_augment: bool = False  # roll each real example by a random amount along the periodic axes (data whose statistics do not depend on position there, e.g. convection in x)

    def __post_init__(self):
        super().__post_init__()
        if self.arch not in ("dcgan", "infogan"):
            raise ValueError(f"model.arch={self.arch!r} is invalid; expected dcgan or infogan")
        if self.d_norm not in ("auto", "batch", "layer", "none"):
            raise ValueError(f"model.d_norm={self.d_norm!r} is invalid; expected auto, batch, layer or none")
        for key in ("g_channels", "d_channels", "ae_code"):
            if getattr(self, key) < 1:
                raise ValueError(f"model.{key}={getattr(self, key)} is invalid; expected >= 1")
        if self.padding not in ("auto", "periodic", "zeros"):
            raise ValueError(f"model.padding={self.padding!r} is invalid; expected auto, periodic or zeros")
        if self.upsample not in ("transposed", "nearest"):
            raise ValueError(f"model.upsample={self.upsample!r} is invalid; expected transposed or nearest")
        if not self.spectral_weight >= 0:
            raise ValueError(f"model.spectral_weight={self.spectral_weight!r} is invalid; expected >= 0")


def _norm(kind: str, c: int, conv: bool) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm2d(c) if conv else nn.BatchNorm1d(c)]
    if kind == "layer":
        return [nn.GroupNorm(1, c) if conv else nn.LayerNorm(c)]
    return []


def _convt(c_in: int, c_out: int, modes: Optional[tuple[str, str]], bias: bool = True,
           upsample: str = "transposed") -> nn.Module:
    """(H, W) -> (2H, 2W). transposed: ConvT 4x4/2, torch's (zero padding 1) or with per-axis padding
    modes. nearest: resize-convolution, y = conv3x3(repeat each pixel 2 x 2), "same" padding with the
    axis modes — every output pixel sees the same number of kernel taps, so an untrained or trained G has
    no period-2 (checkerboard, k = N/2 and N/4 spikes in a spectrum) pattern from uneven kernel overlap
    (Odena, Dumoulin & Olah 2016, "Deconvolution and checkerboard artifacts")."""
    if upsample == "nearest":
        conv = (nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias) if modes is None
                else PaddedConv2d(c_in, c_out, 3, axis_modes=modes, bias=bias))
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv)
    if modes is None:
        return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)
    return PaddedConvTranspose2d(c_in, c_out, 4, stride=2, axis_modes=modes, bias=bias)


def _conv(c_in: int, c_out: int, modes: Optional[tuple[str, str]], bias: bool = True) -> nn.Module:
    """Conv 4x4/2 (H, W) -> (H/2, W/2): torch's (zero padding 1) or with per-axis padding modes."""
    if modes is None:
        return nn.Conv2d(c_in, c_out, 4, 2, 1, bias=bias)
    return PaddedConv2d(c_in, c_out, 4, stride=2, axis_modes=modes, bias=bias)


def _up(c_in: int, c_out: int, modes: Optional[tuple[str, str]] = None, upsample: str = "transposed"
        ) -> list[nn.Module]:
    return [_convt(c_in, c_out, modes, bias=False, upsample=upsample), nn.BatchNorm2d(c_out), nn.ReLU(True)]


def _down(c_in: int, c_out: int, norm: str, modes: Optional[tuple[str, str]] = None) -> list[nn.Module]:
    return [_conv(c_in, c_out, modes, bias=norm == "none"), *_norm(norm, c_out, True),
            nn.LeakyReLU(0.2, True)]


def _out(bounded: bool) -> nn.Module:
    return nn.Tanh() if bounded else nn.Identity()  # physical fields: a linear output in standardised units


def dcgan_networks(cfg: DCGANConfig, channels: int, size: int | tuple[int, int], norm: str, *,
                   bounded: bool = True, modes: Optional[tuple[str, str]] = None,
                   d_modes: Optional[tuple[str, str]] = None) -> tuple[nn.Module, nn.Module]:
    """The Radford et al. G and D for `size` px or (H, W) (G: (B, latent) -> (B, C, H, W) in [−1, 1], or
    unbounded for physical fields); `modes` / `d_modes` = per-axis padding modes of G / D (None: torch's
    zero padding)."""
    h, w = (size, size) if isinstance(size, int) else size
    plan = downsample_plan(min(h, w))
    if not plan:
        raise GenlabError(f"dcgan needs images whose side halves at least once (got {h} x {w} px); use "
                          "28, 32 or 64 px images")
    s, n = plan[-1], len(plan)
    s_h, s_w = h >> n, w >> n
    if (s_h << n, s_w << n) != (h, w):
        raise GenlabError(f"dcgan needs both sides divisible by {2 ** n} (got {h} x {w}); crop or resize the "
                          f"fields to e.g. {s << n} x {(w >> n << n) or s << n}")
    widths = [cfg.g_channels * 2 ** (n - 1 - i) for i in range(n)]  # e.g. 28 px: [128, 64]
    g_layers: list[nn.Module] = [nn.Linear(cfg.latent_dim, widths[0] * s_h * s_w, bias=False),
                                 Unflatten(widths[0], s_h, s_w), nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
    for a, b in zip(widths[:-1], widths[1:]):
        g_layers += _up(a, b, modes, cfg.upsample)
    g_layers += [_convt(widths[-1], channels, modes, upsample=cfg.upsample), _out(bounded)]
    d_layers: list[nn.Module] = [_conv(channels, cfg.d_channels, d_modes), nn.LeakyReLU(0.2, True)]
    c = cfg.d_channels
    for _ in range(n - 1):
        d_layers += _down(c, 2 * c, norm, d_modes)
        c *= 2
    d_layers += [Flatten(), nn.Linear(c * s_h * s_w, 1)]  # (B, c, s_h, s_w) -> (B, c*s_h*s_w) -> (B, 1)
    return nn.Sequential(*g_layers), nn.Sequential(*d_layers)


def infogan_networks(cfg: DCGANConfig, channels: int, size: int | tuple[int, int], norm: str, *,
                     bounded: bool = True, modes: Optional[tuple[str, str]] = None,
                     d_modes: Optional[tuple[str, str]] = None) -> tuple[nn.Module, nn.Module]:
    """Lucic et al.'s MNIST-family G and D (compare_gan v1 'infogan'), for square sides divisible by 4."""
    if not isinstance(size, int):
        if size[0] != size[1]:
            raise GenlabError(f"model.arch=infogan needs square images (got {size[0]} x {size[1]}); use "
                              "model.arch=dcgan")
        size = size[0]
    if cfg.upsample != "transposed":
        raise GenlabError("model.arch=infogan keeps Lucic et al.'s transposed convs; use model.arch=dcgan for "
                          "model.upsample=nearest")
    if modes is not None or d_modes is not None:
        raise GenlabError("model.arch=infogan has no periodic padding; use model.arch=dcgan for periodic "
                          "fields, or model.padding=zeros")
    if size % 4:
        raise GenlabError(f"model.arch=infogan needs an image side divisible by 4 (got {size} px); use "
                          "28 px data (Fashion-MNIST) or model.arch=dcgan")
    s = size // 4
    generator = nn.Sequential(
        nn.Linear(cfg.latent_dim, 1024, bias=False), nn.BatchNorm1d(1024), nn.ReLU(True),
        nn.Linear(1024, 128 * s * s, bias=False), nn.BatchNorm1d(128 * s * s), nn.ReLU(True),
        Unflatten(128, s, s), *_up(128, 64), nn.ConvTranspose2d(64, channels, 4, 2, 1), _out(bounded))
    discriminator = nn.Sequential(
        nn.Conv2d(channels, 64, 4, 2, 1), nn.LeakyReLU(0.2, True), *_down(64, 128, norm),
        Flatten(), nn.Linear(128 * s * s, 1024), *_norm(norm, 1024, False),  # (B, 128*s*s)
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
        if not data.is_image:
            raise GenlabError(f"dcgan needs (C, H, W) images or fields, got data of shape {data.shape}; use "
                              "model gan for vectors and 2-D toys")
        if config.shift_augment and not any(ax in (1, 2) for ax in data.spec.periodic):
            raise GenlabError("model.shift_augment needs data with a periodic axis (FieldSpec.periodic); these "
                              f"data ({data.spec.describe()}) have none: set it to false")
        if config.spectral_weight > 0 and data.bounded:
            raise GenlabError("model.spectral_weight is for physical fields (unbounded data); set it to 0 "
                              "for images")
        channels, size = data.shape[0], (data.shape[1], data.shape[2])
        if size[0] == size[1]:
            size = size[0]
        norm = self.config.d_norm
        if norm == "auto":
            norm = "none" if self.adv.penalty is not None else "batch"
        periodic = [ax + 1 for ax in data.spec.periodic if ax in (1, 2)]  # (C, H, W) axes -> (B, C, H, W) dims
        wrap = resolve_axis_modes("zeros", periodic_axes=periodic) if periodic else None
        g_modes = wrap if config.padding in ("auto", "periodic") else None
        d_modes = wrap if config.padding == "periodic" else None
        self.generator, discriminator = ARCHS[config.arch](config, channels, size, norm, bounded=data.bounded,
                                                           modes=g_modes, d_modes=d_modes)
        tricks.dcgan_init_(self.generator)
        if self.adv.energy:
            discriminator = began.conv_autoencoder(channels, size, code=config.ae_code,
                                                   base=max(config.d_channels // 2, 1))
        self.discriminator = tricks.dcgan_init_(discriminator) if not self.adv.energy else discriminator
        self._finish()

    # --- a second training stage: initialisation from another dcgan run -------------------------
    def warm_start_source(self) -> Optional[str]:
        return self.config.init_from or None

    def warm_start(self, run) -> None:
        """G and D := those of `run` (a runs.LoadedRun of dcgan with networks of the same shapes). G gets
        the run's EMA weights where it kept them (load_run's rule), D its live weights; the optimiser
        state and the step counter start afresh (a new run, its own schedule)."""
        src = self.config.init_from
        if run.config.model_name != "dcgan":
            raise GenlabError(f"model.init_from={src} is a {run.config.model_name!r} run; give a dcgan run")
        for name, net in self.networks().items():
            theirs, mine = getattr(run.model, name).state_dict(), net.state_dict()
            bad = [k for k, v in mine.items() if k not in theirs or theirs[k].shape != v.shape]
            if bad or len(theirs) != len(mine):
                raise GenlabError(f"model.init_from={src} has a {name} of another shape ({(bad or ['layers'])[0]}); "
                                  "give a dcgan run with the same arch, widths, padding, loss family and data shape")
            net.load_state_dict(theirs)

    def real(self, batch) -> Tensor:
        x = batch.x
        if self.config.shift_augment and self.training:
            x = tricks.random_roll(x, [ax + 1 for ax in self.data.spec.periodic if ax in (1, 2)],
                                   generator=batch.generator)
        return x

    def g_terms(self, batch, fake: Tensor) -> dict[str, tuple[float, Tensor]]:
        if self.config.spectral_weight <= 0:
            return {}
        periodic = tuple(ax + 1 for ax in self.data.spec.periodic if ax in (1, 2))
        return {"spectral": (self.config.spectral_weight,
                             spectral_loss(fake.float(), self.real(batch).float(), periodic_dims=periodic))}
