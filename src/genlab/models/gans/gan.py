"""`gan`: fully connected generator and discriminator (Goodfellow et al. 2014) for 2-D toys and small
vectors (images are flattened). Any registered adversarial loss: `--model.loss=hinge`.

    G: z ~ N(0, I_latent) -> MLP (ReLU) -> x̂ (linear output for vectors, tanh for images)
    D: x -> MLP (LeakyReLU 0.2) -> logit / critic value; with `--model.loss=began` an MLP autoencoder
       returning L1 energies.

Packing (`--model.pack=m`, PacGAN, Lin et al. 2018): D sees m samples at once, all real or all fake,
concatenated: D([x_1, ..., x_m]) with input width m·d, so that it can penalise a lack of diversity
within a pack. The losses are unchanged, over B/m packed examples per batch (e.g. NS:
L_D = −E log D([x_1..x_m]) − E log(1 − D([G(z_1)..G(z_m)]))); gradient penalties and BEGAN's energies
act on packs too. m = 1 is the plain GAN.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ...nn import MLP
from ...registry import register_model
from ..base import DataInfo
from . import began
from .game import AdversarialConfig, AdversarialModel


@dataclass
class GANConfig(AdversarialConfig):
    latent_dim: int = 16  # size of z ~ N(0, I) fed to G
    g_hidden: int = 128  # width of G's hidden layers
    d_hidden: int = 128  # width of D's hidden layers
    depth: int = 3  # hidden layers in G and in D
    ae_code: int = 8  # BEGAN autoencoder bottleneck width
    pack: int = 1  # PacGAN: D judges m samples concatenated (input width m·d); 1 = no packing

    def __post_init__(self):
        super().__post_init__()
        for key in ("g_hidden", "d_hidden", "depth", "ae_code", "pack"):
            if getattr(self, key) < 1:
                raise ValueError(f"model.{key}={getattr(self, key)} is invalid; expected >= 1")


def _leaky():
    return nn.LeakyReLU(0.2)


class _ImageHead(nn.Module):
    """(B, D) -> (B, C, H, W) in [−1, 1]: the MLP generator's output for image data."""

    def __init__(self, shape: tuple[int, ...], bounded: bool = True):
        super().__init__()
        self.shape, self.bounded = shape, bounded

    def forward(self, h):
        h = h.tanh() if self.bounded else h  # physical fields: linear output
        return h.view(h.shape[0], *self.shape)  # (B, D) -> (B, C, H, W)


@register_model("gan", config=GANConfig, family="adversarial",
                help="MLP GAN for 2-D toys / small vectors; any adversarial loss (--model.loss)",
                tiny={"latent_dim": 4, "g_hidden": 16, "d_hidden": 16, "depth": 2, "ae_code": 2},
                test_data="ring8")
class GAN(AdversarialModel):
    # fp32: the toys' modes are 0.01-0.05 wide, below bf16's resolution (2^-7) near |x| = 1-4, and
    # these MLPs gain nothing from bf16 matmuls. Tuned on ring8/grid25 (docs/benchmarks-gans.md): a high
    # G lr decayed to 0 (cosine) makes the modes sharp (HQ share); D slower than G (3e-3 vs 5e-3) keeps
    # NS from dropping grid25 modes; EMA of G (with warm-up) for sampling/eval.
    train_defaults = {"lr": 5e-3, "group_lr": {"discriminator": 3e-3}, "betas": (0.5, 0.9), "batch_size": 512,
                      "steps": 10000, "lr_schedule": "cosine", "warmup": 100, "ema": 0.999, "precision": "fp32",
                      "log_every": 100, "ckpt_every": 1000}
    # Per loss (docs/benchmarks-gans.md §1): gradient penalties at λ = 10 keep D's slope near 1, too flat
    # for the toys' narrow modes (3σ = 0.03 on ring8): WGAN-GP and DRAGAN samples stayed spread (≤ 5 % HQ
    # on ring8). λ = 1 sharpens both; WGAN-GP with 2 critic steps per G step (5 left grid25 at 43 % HQ
    # within 10,000 steps, 1 collapsed it).
    loss_defaults = {"wgan-gp": {"model": {"penalty_weight": 1.0, "n_critic": 2}},
                     "dragan": {"model": {"penalty_weight": 1.0}}}

    def __init__(self, config: GANConfig, data: DataInfo):
        super().__init__(config, data)
        dims = data.dims
        self.pack = config.pack
        g = MLP(config.latent_dim, dims, config.g_hidden, config.depth, act=nn.ReLU)
        self.generator = nn.Sequential(g, _ImageHead(data.shape, data.bounded)) if data.is_image else g
        if self.adv.energy:
            self.discriminator = began.mlp_autoencoder(dims * self.pack, code=config.ae_code,
                                                       hidden=config.d_hidden, depth=config.depth)
        else:
            self.discriminator = MLP(dims * self.pack, 1, config.d_hidden, config.depth, act=_leaky)
        self._finish()
