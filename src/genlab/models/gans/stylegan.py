"""`stylegan`: a compact StyleGAN2 (Karras et al. 2019, 2020) on the one trainer, pure PyTorch.

G = mapping f: z -> w (8 equalised-lr layers, lr × 0.01) + synthesis from a learned 4×4 constant with
modulated/demodulated 3×3 convs, per-pixel noise and skip toRGB outputs (genlab.nn.style_generator);
D = residual discriminator with minibatch std (genlab.nn.style_discriminator). Images only, square,
1 or 3 channels; a side that is not a power of two (Fashion-MNIST's 28) is padded with black (data value
0) to the next one (32): reals are padded for D, G's outputs are cropped back to the data's side (so
samples have the data's shape) and padded again before D, which therefore never sees G's border.

Losses (non-saturating, images in [−1, 1]; T = the differentiable augmentation, models/gans/augment.py):

    L_D = E[softplus(D(T(G(z))))] + E[softplus(−D(T(x)))]             every step
    L_R1 = k_r · (γ/2) · E‖∇_x D(T(x))‖²                                 every k_r = 16 steps (lazy)
    L_G = E[softplus(−D(T(G(z))))]                                        every step
    L_pl = k_p · w_pl · E[(ℓ − a)²], a ← a + 0.01 (E[ℓ] − a)              every k_p = 4 steps, if w_pl > 0

(lazy regularisers weighted by their interval, as StyleGAN2; Adam's lr and betas are not rescaled for
them). Style mixing (probability 0.9 per sample) applies to every G call during training; w̄ is updated
in the G phase. The phases run as R1, D, PL, G, so the logged `discriminator/loss` and `generator/loss`
are those of the main phases (a later phase's `loss` replaces an earlier one's in the log).

Sampling uses ψ = model.truncation: w' = w̄ + ψ (w − w̄); with train.ema > 0 the trainer and `load_run`
sample with the EMA generator (its w̄ and noise maps are copied from the live one).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...config import opt
from ...errors import GenlabError
from ...losses.adversarial import d_nonsaturating, g_nonsaturating
from ...losses.regularizers import path_lengths, r1_penalty
from ...nn.style_discriminator import ResidualDiscriminator
from ...nn.style_generator import StyleGenerator, style_resolutions
from ...registry import register_model
from ..base import DataInfo, GenerativeModel, Phase, randn
from .augment import MODES, Augment, parse_ops


@dataclass
class StyleGANConfig:
    latent_dim: int = opt(128, "size of z and of w (the mapping network's width)")
    mapping_layers: int = opt(8, "depth of the mapping network z -> w (0 = w is the pixel-normalised z)")
    mapping_lr_mul: float = opt(0.01, "learning-rate multiplier of the mapping network (equalised lr)")
    channels: int = opt(16, "feature maps at the output side; doubling per halving of the side up to max_channels")
    max_channels: int = opt(128, "most feature maps of any layer (low resolutions), G and D alike")
    modconv: str = opt("scaled", "modulated conv as one grouped conv (StyleGAN2's fused form) or as an input/output "
                       "scaling around one shared conv (identical maths, faster on CPUs)", ("grouped", "scaled"))
    r1_gamma: float = opt(0.1, "γ of R1 = (γ/2) E|∇_x D(x)|² on reals; 0 = off (ADA's heuristic: 0.0002·side²/batch)")
    r1_interval: int = opt(16, "lazy R1: evaluated every N steps with weight × N")
    pl_weight: float = opt(0.0, "path-length regularisation weight (StyleGAN2: 2); 0 = off")
    pl_interval: int = opt(4, "lazy path-length regularisation: every N steps with weight × N")
    pl_decay: float = opt(0.01, "rate of the running mean a of the path lengths")
    pl_batch_shrink: int = opt(2, "path-length batch = train batch / this")
    mixing_prob: float = opt(0.9, "style-mixing regularisation: probability per sample of a second latent from a "
                             "random crossover layer on; 0 = off")
    w_avg_beta: float = opt(0.995, "tracked w average: w̄ ← β w̄ + (1 − β) mean(w) each G step (truncation centre)")
    truncation: float = opt(1.0, "ψ of sample/decode: w' = w̄ + ψ (w − w̄); 1 = no truncation")
    sample_mixing: int = opt(1, "latents mixed in each sample() image at distinct random crossover layers "
                             "(StyleGAN's Table 2 evaluates 1-4); 1 = one latent")
    sample_noise: str = opt("random", "per-pixel noise of sample(): random from the sampling generator, or the "
                            "fixed maps (decode and explore always use the fixed maps)", ("random", "const"))
    augment: str = opt("none", "differentiable augmentation of D's inputs: none, diffaugment (fixed p) or ada "
                       "(adaptive p)", MODES)
    augment_ops: str = opt("color,translation,cutout", "augmentations, a comma-separated subset of "
                           "color,translation,cutout")
    augment_p: float = opt(-1.0, "probability of each augmentation per sample: fixed (diffaugment) or initial "
                           "(ada); -1 = 1 for diffaugment, 0 for ada")
    ada_target: float = opt(0.6, "ada: target of the overfitting signal r_t = E[sign(D(real))]")
    ada_interval: int = opt(4, "ada: steps between adjustments of p")
    ada_kimg: float = opt(100.0, "ada: thousands of real images for p to move 0 -> 1 at full speed (ADA: 500)")
    mbstd_group: int = opt(4, "minibatch-std group size of D (the largest divisor of the batch up to this)")

    def __post_init__(self):
        checks = [
            (self.latent_dim >= 1, "latent_dim", ">= 1"), (self.mapping_layers >= 0, "mapping_layers", ">= 0"),
            (self.mapping_lr_mul > 0, "mapping_lr_mul", "> 0"), (self.channels >= 1, "channels", ">= 1"),
            (self.max_channels >= 1, "max_channels", ">= 1"), (self.r1_gamma >= 0, "r1_gamma", ">= 0"),
            (self.r1_interval >= 1, "r1_interval", ">= 1"), (self.pl_weight >= 0, "pl_weight", ">= 0"),
            (self.pl_interval >= 1, "pl_interval", ">= 1"), (0 < self.pl_decay <= 1, "pl_decay", "in (0, 1]"),
            (self.pl_batch_shrink >= 1, "pl_batch_shrink", ">= 1"),
            (0 <= self.mixing_prob <= 1, "mixing_prob", "a probability in [0, 1]"),
            (0 <= self.w_avg_beta < 1, "w_avg_beta", "in [0, 1)"), (self.truncation >= 0, "truncation", ">= 0"),
            (self.sample_mixing >= 1, "sample_mixing", ">= 1"),
            (self.augment_p == -1 or 0 <= self.augment_p <= 1, "augment_p", "-1 or a probability in [0, 1]"),
            (-1 < self.ada_target < 1, "ada_target", "in (-1, 1)"), (self.ada_interval >= 1, "ada_interval", ">= 1"),
            (self.ada_kimg > 0, "ada_kimg", "> 0"), (self.mbstd_group >= 1, "mbstd_group", ">= 1"),
        ]
        for ok, key, want in checks:
            if not ok:
                raise ValueError(f"model.{key}={getattr(self, key)!r} is invalid; expected {want}")
        parse_ops(self.augment_ops)


def padded_side(side: int) -> int:
    """The power of two >= max(side, 8) that the networks work at (28 -> 32)."""
    return max(8, 1 << (side - 1).bit_length())


@register_model("stylegan", config=StyleGANConfig, family="adversarial",
                help="StyleGAN2-style G (mapping net, modulated convs, noise, style mixing, truncation) and "
                     "residual D; R1, path-length reg., DiffAugment/ADA; images 8-128 px",
                tiny={"latent_dim": 8, "mapping_layers": 2, "channels": 4, "max_channels": 8, "pl_weight": 2.0,
                      "augment": "ada", "augment_p": 0.5},
                test_data="digits")
class StyleGAN(GenerativeModel):
    train_defaults = {"lr": 2.5e-3, "betas": (0.0, 0.99), "batch_size": 32, "steps": 10000, "ema": 0.999,
                      "log_every": 100, "ckpt_every": 1000}
    requires = {"x": ("image",)}
    provides = frozenset({"decode", "sample_latent", "to_w", "decode_w"})
    ema_default = ("generator",)

    def __init__(self, config: StyleGANConfig, data: DataInfo):
        super().__init__(config, data)
        c, h, w = data.shape
        if h != w or c not in (1, 3) or not data.bounded:
            raise GenlabError(f"stylegan needs square grayscale or RGB images with bounded values; got "
                              f"{data.spec.describe()}; crop the data square (data.derive=crop:N) or use dcgan")
        self.side, self.res = h, padded_side(h)
        self._pad = ((self.res - h) // 2, (self.res - h) - (self.res - h) // 2)  # (before, after) per axis

        def width(r: int) -> int:
            return min(config.channels * self.res // r, config.max_channels)

        self.generator = StyleGenerator(latent_dim=config.latent_dim, mapping_layers=config.mapping_layers,
                                        mapping_lr_mul=config.mapping_lr_mul, size=self.res, channels=c,
                                        width=width, mode=config.modconv, w_avg_beta=config.w_avg_beta)
        self.discriminator = ResidualDiscriminator(size=self.res, channels=c, width=width,
                                                   mbstd_group=config.mbstd_group)
        self.augment = Augment(config.augment, config.augment_ops, p=config.augment_p, target=config.ada_target,
                               interval=config.ada_interval, kimg=config.ada_kimg)
        self.register_buffer("pl_mean", torch.zeros(()))
        if config.sample_mixing > self.generator.n_ws:
            raise GenlabError(f"model.sample_mixing={config.sample_mixing} exceeds the {self.generator.n_ws} "
                              f"styles of a {self.res}-px generator; use 1..{self.generator.n_ws}")

    # --- the contract -------------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"discriminator": list(self.discriminator.parameters()),
                "generator": list(self.generator.parameters())}

    def phases(self, step: int) -> list[Phase]:
        cfg = self.config
        out = [Phase("discriminator", self.r1_loss, every=cfg.r1_interval)] if cfg.r1_gamma > 0 else []
        out.append(Phase("discriminator", partial(self.d_loss, step=step)))
        if cfg.pl_weight > 0:
            out.append(Phase("generator", self.pl_loss, every=cfg.pl_interval))
        out.append(Phase("generator", self.g_loss))
        return out

    def train_log(self) -> dict[str, Tensor]:
        logs = {"d_sign_real": self.augment.rt}  # r_t of the last interval: ADA's overfitting signal
        if self.config.augment != "none":
            logs["augment_p"] = self.augment.p
        return logs

    # --- spaces -------------------------------------------------------------------------------
    def to_model(self, x: Tensor) -> Tensor:
        """Data [0, 1] (B, C, side, side) -> [−1, 1] at the networks' side (black padding)."""
        y = x * 2.0 - 1.0
        return F.pad(y, self._pad * 2, value=-1.0) if self.res != self.side else y

    def crop(self, y: Tensor) -> Tensor:
        """G's (B, C, res, res) -> the data's (B, C, side, side)."""
        a = self._pad[0]
        return y[..., a:a + self.side, a:a + self.side] if self.res != self.side else y

    def for_d(self, y: Tensor) -> Tensor:
        """G's output as D sees it: the data's region, padded black again."""
        return F.pad(self.crop(y), self._pad * 2, value=-1.0) if self.res != self.side else y

    def to_data(self, y: Tensor) -> Tensor:
        return ((self.crop(y).float() + 1.0) / 2.0).clamp(0.0, 1.0)

    def sample_latent(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        return randn((n, self.config.latent_dim), generator=generator, device=self.device)

    def to_w(self, z: Tensor, *, psi: Optional[float] = None) -> Tensor:
        """w' = w̄ + ψ (f(z) − w̄), ψ = model.truncation unless given."""
        return self.generator.truncate(self.generator.mapping(z), self.config.truncation if psi is None else psi)

    def decode_w(self, w: Tensor) -> Tensor:
        """Images in [0, 1] from w (B, D) or per-layer styles (B, L, D), with the fixed noise maps."""
        return self.to_data(self.generator(ws=w))

    def decode(self, z: Tensor) -> Tensor:
        """G(z) at ψ = model.truncation with the fixed noise maps, in [0, 1]."""
        return self.decode_w(self.to_w(z))

    def style_resolutions(self) -> tuple[int, ...]:
        return style_resolutions(self.res)

    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """x = G(z) at ψ = model.truncation, z ~ N(0, I), noise from `generator` (sample_noise=random)."""
        noise = generator if self.config.sample_noise == "random" else None
        if self.config.sample_mixing > 1:
            ws = self.mixed_styles(n, self.config.sample_mixing, generator=generator)
            return self.to_data(self.generator(ws=ws, generator=noise))
        z = self.sample_latent(n, generator=generator)
        return self.to_data(self.generator(z, generator=noise, psi=self.config.truncation))

    def mixed_styles(self, n: int, k: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """Per-layer styles (n, L, D) mixing k prior latents (at ψ = model.truncation): k − 1 distinct
        crossover indices c₁ < … < c_{k−1} drawn uniformly from 1..L−1 per sample; style i takes the w of
        latent #{j : c_j ≤ i} (Karras et al. 2019, Table 2's test-time mixing)."""
        d, n_ws = self.config.latent_dim, self.generator.n_ws
        w = self.to_w(self.sample_latent(k * n, generator=generator)).view(k, n, d)  # (k·n, D) -> (k, n, D)
        order = torch.rand((n, n_ws - 1), generator=generator, device=generator.device if generator else None)
        cuts = order.to(w.device).argsort(1)[:, :k - 1] + 1  # (n, k − 1) distinct crossovers
        which = (torch.arange(n_ws, device=w.device)[None, :, None] >= cuts[:, None, :]).sum(-1)  # (n, L)
        return w.permute(1, 0, 2).gather(1, which[..., None].expand(-1, -1, d))  # (n, k, D) -> (n, L, D)

    # --- the losses ---------------------------------------------------------------------------
    def _fake(self, n: int, generator, **kw):
        z = self.sample_latent(n, generator=generator)
        return self.generator(z, generator=generator, mix_prob=self.config.mixing_prob, **kw)

    def _d(self, x: Tensor, generator) -> Tensor:
        return self.discriminator(self.augment(x, generator)).float().reshape(-1)  # (B, 1) -> (B,)

    def d_loss(self, batch, *, step: int = 0) -> dict:
        """L_D = E[softplus(D(T(G(z))))] + E[softplus(−D(T(x)))]; also ADA's statistics and p update."""
        g = batch.generator
        self.augment.adjust(step)
        real = self.to_model(batch.x)
        with torch.no_grad():
            fake = self.for_d(self._fake(real.shape[0], g)).to(real.dtype)
        out_real, out_fake = self._d(real, g), self._d(fake, g)
        self.augment.observe(out_real)
        return {"loss": d_nonsaturating(out_real, out_fake), "d_real": out_real.mean().detach(),
                "d_fake": out_fake.mean().detach()}

    def r1_loss(self, batch) -> dict:
        """k · (γ/2) · E‖∇_x D(T(x))‖² on this batch's reals."""
        cfg = self.config
        pen = r1_penalty(lambda v: self._d(v, batch.generator), self.to_model(batch.x))
        return {"loss": pen * (cfg.r1_gamma / 2 * cfg.r1_interval), "r1": pen.detach()}

    def g_loss(self, batch) -> dict:
        """L_G = E[softplus(−D(T(G(z))))], mixed styles; updates w̄."""
        g = batch.generator
        out = self._d(self.for_d(self._fake(len(batch), g, track=True)), g)
        return {"loss": g_nonsaturating(out), "d_fake_g": out.mean().detach()}

    def pl_loss(self, batch) -> dict:
        """k · w_pl · E[(ℓ − a)²] on batch/shrink fresh samples (ℓ: genlab.losses.regularizers.path_lengths)."""
        cfg, g = self.config, batch.generator
        images, ws = self._fake(max(1, len(batch) // cfg.pl_batch_shrink), g, return_ws=True)
        lengths = path_lengths(self.crop(images), ws, generator=g)
        with torch.no_grad():
            self.pl_mean.lerp_(lengths.detach().mean(), cfg.pl_decay)
        pen = (lengths - self.pl_mean).pow(2).mean()
        return {"loss": pen * (cfg.pl_weight * cfg.pl_interval), "pl_penalty": pen.detach(),
                "pl_mean": self.pl_mean.detach().clone()}
