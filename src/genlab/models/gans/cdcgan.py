"""`cdcgan`: class-conditional DCGAN with a projection discriminator (Miyato & Koyama 2018).

    D(x, y) = ψ(φ(x)) + ⟨e(y), φ(x)⟩,     G(z, y) = G_dcgan([z, c(y)]),

φ: DCGAN's D up to its last linear layer (the conv stages and flatten; arch=infogan: up to its FC 1024
features), ψ: that last linear layer, e: a learned class embedding of φ's width (initialised like ψ's
weight, N(0, 0.02²), so at the start the class term is on the scale of the unconditional one). The
projection is the discriminator of the log-likelihood-ratio form: with ψ the unconditional logit and
⟨e(y), φ(x)⟩ the class logit, D(x, y) models log p_data(x, y) / p_G(x, y) for a softmax class model on
φ (Miyato & Koyama §3), instead of feeding y to D's input (Mirza & Osindero) where it is easy to ignore.

Generator: the label code c(y) (a learned embedding, N(0, 1) like z) is concatenated to z, and the
concatenation goes through Radford et al.'s G unchanged (dcgan.py's builders, so every arch and size of
`dcgan` works): Mirza & Osindero's conditioning. The code is narrow (embed_dim 8 next to a 64-d z): with
a 32-d code G learned to ignore z on Fashion-MNIST (4,500 steps: 99.8 % class accuracy but one image per
class, within-class pixel std 0.05 against 0.195 for real images), while with 8 dimensions samples stay
as diverse as real ones (0.16 after 1,500 steps, accuracy 82 %). Conditional batch norm (class gains
and biases in every BN of G, Miyato & Koyama's ImageNet G) was measured too and rejected: starting from
gain 1, bias 0 it learned the class slowly (29 % accuracy after 1,500 steps).

Labels in the game: in the D phase the fakes get the real batch's labels, y_fake = y_real, so real
and fake halves of a D step have the same class histogram, and the per-example tricks stay within a
class: label flipping swaps x_i and G(z_i, y_i), and WGAN-GP interpolates x_i with G(z_i, y_i) along a
segment on which D(·, y_i) is penalised. The G phase uses the batch's labels too, so classes are
trained at their data frequencies. `sample(n, cond={"y": labels})`; without cond the labels cycle
0..K−1. `decode(z)` needs a label, so it is not declared.

Losses: any registered adversarial loss (`--model.loss`, non-saturating by default; hinge is the usual
choice with a projection D). The shared game (game.py) runs unchanged through its two hooks, overridden
here: `generate_fake(n, batch)` = G(z, batch.y) and `discriminate(x, batch)` = D(x, batch.y), which the
game also uses for the gradient penalties. loss=began replaces D by a conditional autoencoder (one-hot
labels into its encoder and next to its code), energies e(x, y).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import GenlabError
from ...nn import ConvDecoder, ConvEncoder
from ...registry import register_model
from ..conditioning import LabelInput, class_count, class_labels, class_preview
from ..base import Batch, DataInfo, GenerativeModel, Panel
from . import tricks
from .dcgan import ARCHS, DCGAN, DCGANConfig
from .game import AdversarialModel


@dataclass
class CDCGANConfig(DCGANConfig):
    embed_dim: int = 8  # width of G's label code c(y), concatenated to z (narrow: see the module docstring)

    def __post_init__(self):
        super().__post_init__()
        if self.embed_dim < 1:
            raise ValueError(f"model.embed_dim={self.embed_dim} is invalid; expected >= 1")


class ConditionalGenerator(nn.Module):
    """G(z, y) = net([z, c(y)]): (B, latent), (B,) -> (B, C, H, W) in [−1, 1]."""

    def __init__(self, net: nn.Module, n_classes: int, embed_dim: int):
        super().__init__()
        self.net, self.embed = net, nn.Embedding(n_classes, embed_dim)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return self.net(torch.cat([z, self.embed(y).to(z.dtype)], 1))  # (B, latent + embed_dim)


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = ψ(φ(x)) + ⟨e(y), φ(x)⟩: (B, C, H, W), (B,) -> (B,) logits / critic values."""

    def __init__(self, phi: nn.Module, psi: nn.Linear, n_classes: int):
        super().__init__()
        self.phi, self.psi = phi, psi
        self.embed = nn.Embedding(n_classes, psi.in_features)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.phi(x)  # (B, F)
        return self.psi(h).squeeze(1) + (self.embed(y) * h).sum(1)  # (B, 1) -> (B,), plus (B,)


class ConditionalAutoencoder(nn.Module):
    """BEGAN's D given the class: e(x, y) = mean |x − Dec([Enc([x, onehot(y)]), onehot(y)])|, (B,)."""

    def __init__(self, channels: int, size: int, n_classes: int, *, code: int, base: int):
        super().__init__()
        self.n_classes = n_classes
        self.encoder = LabelInput(ConvEncoder(channels + n_classes, size, code, base=base, act=nn.ELU),
                                  n_classes, spatial=True)
        self.decoder = ConvDecoder(code + n_classes, channels, size, base=base, act=nn.ELU)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.encoder(x, y)  # (B, code)
        onehot = F.one_hot(y, self.n_classes).to(h.dtype)  # (B, K)
        rec = self.decoder(torch.cat([h, onehot], 1)).view(x.shape)  # (B, code + K) -> (B, C, H, W)
        return (x - rec).abs().float().flatten(1).mean(1)  # (B, C*H*W) -> (B,)


@register_model("cdcgan", config=CDCGANConfig, family="adversarial",
                help="class-conditional DCGAN: projection D (Miyato & Koyama), label code concatenated to z; "
                     "any adversarial loss; sample(cond={'y': ...})",
                tiny={"latent_dim": 8, "g_channels": 4, "d_channels": 4, "ae_code": 4, "embed_dim": 4},
                test_data="digits")
class CDCGAN(AdversarialModel):
    requires = {"x": ("image",), "y": ("label",)}
    sample_conditions = ("y",)
    provides = frozenset({"sample_latent"})
    decode = GenerativeModel.decode  # G needs a label: no generic decode(z)
    train_defaults = DCGAN.train_defaults

    def __init__(self, config: CDCGANConfig, data: DataInfo):
        super().__init__(config, data)
        if not data.is_image or data.shape[1] != data.shape[2]:
            raise GenlabError(f"cdcgan needs square images, got data of shape {data.shape}")
        self.n_classes = k = class_count(data, "cdcgan")
        channels, size = data.shape[0], data.shape[1]
        norm = config.d_norm
        if norm == "auto":
            norm = "none" if self.adv.penalty is not None else "batch"
        widened = replace(config, latent_dim=config.latent_dim + config.embed_dim)  # G's input: [z, c(y)]
        g_net, d_net = ARCHS[config.arch](widened, channels, size, norm)
        self.generator = ConditionalGenerator(tricks.dcgan_init_(g_net), k, config.embed_dim)
        if self.adv.energy:
            self.discriminator = ConditionalAutoencoder(channels, size, k, code=config.ae_code,
                                                        base=max(config.d_channels // 2, 1))
        else:
            layers = list(tricks.dcgan_init_(d_net))
            self.discriminator = ProjectionDiscriminator(nn.Sequential(*layers[:-1]), layers[-1], k)
        self._finish()

    def _finish(self) -> None:
        super()._finish()
        if self.config.spectral_norm and isinstance(self.discriminator, ProjectionDiscriminator):
            # Miyato & Koyama normalise the embedding as well as φ and ψ
            from torch.nn.utils.parametrizations import spectral_norm

            spectral_norm(self.discriminator.embed)

    # --- the game's hooks: G and D given the batch's labels -----------------------------------
    def discriminate(self, x: Tensor, batch: Batch) -> Tensor:
        """D(x, y) with the batch's labels y (B,), for reals, fakes and penalty points alike."""
        return self.discriminator(x, batch.y)

    def generate_fake(self, n: int, batch: Batch) -> Tensor:
        """G(z, y) for the batch's labels y (B,) (n = B), z ~ N(0, I) from the batch's generator."""
        return self.generator(self.sample_latent(n, generator=batch.generator), batch.y[:n])

    # --- sampling -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None,
               cond: Optional[Mapping[str, Tensor]] = None) -> Tensor:
        """x = G(z, y), z ~ N(0, I), y from cond["y"] (n,) or cycling 0..K−1; data space [0, 1]."""
        y = class_labels(n, cond, n_classes=self.n_classes, device=self.device, model="cdcgan")
        return self.to_data(self.generator(self.sample_latent(n, generator=generator), y))

    def preview(self, batch: Optional[Batch], *, n: int, generator: Optional[torch.Generator] = None) -> list[Panel]:
        return class_preview(self, n, generator)
