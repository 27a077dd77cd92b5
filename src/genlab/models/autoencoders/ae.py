"""Autoencoder: x̂ = g(f(x)), trained on the reconstruction loss ‖x − x̂‖² (the lecture's first model).

After training, the encoder f is reused as a feature extractor (`genlab probe`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from ...registry import register_model
from ..base import Batch, DataInfo, GenerativeModel, Phase, randn
from . import backbone


@dataclass
class AEConfig:
    arch: str = "auto"  # auto | conv | mlp (encoder/decoder type; auto = conv for images, mlp for vectors)
    latent_dim: int = 32  # size of the code z
    hidden: int = 512  # MLP width
    depth: int = 2  # MLP hidden layers
    channels: int = 32  # conv base width

    def __post_init__(self):
        if self.latent_dim < 1:
            raise ValueError(f"model.latent_dim={self.latent_dim} is invalid; expected >= 1")
        if self.arch not in ("auto", "conv", "mlp"):
            raise ValueError(f"model.arch={self.arch!r} is invalid; expected auto, conv or mlp")


@register_model("ae", config=AEConfig, family="likelihood",
                help="autoencoder (MLP or conv), loss ||x - x_hat||^2; encoder reused by `genlab probe`",
                tiny={"latent_dim": 4, "hidden": 16, "channels": 4})
class Autoencoder(GenerativeModel):
    ema_default = ("encoder", "decoder")
    provides = frozenset({"encode", "decode", "reconstruct", "sample_latent"})

    def __init__(self, config: AEConfig, data: DataInfo):
        super().__init__(config, data)
        arch = backbone.resolve_arch(config.arch, data)
        kw = dict(hidden=config.hidden, depth=config.depth, channels=config.channels)
        self.encoder = backbone.encoder(arch, data, config.latent_dim, **kw)
        self.decoder = backbone.decoder(arch, data, config.latent_dim, 1, **kw)
        # latent statistics of the training data, for sampling (an AE has no prior of its own)
        self.register_buffer("z_mean", torch.zeros(config.latent_dim))
        self.register_buffer("z_std", torch.ones(config.latent_dim))

    def networks(self):
        return {"encoder": self.encoder, "decoder": self.decoder}

    def phases(self, step: int) -> list[Phase]:
        return [Phase("model", self.loss)]

    def loss(self, batch: Batch) -> dict:
        """L = E ‖x − x̂‖² (summed over dimensions, averaged over the batch)."""
        z = self.encoder(batch.x)
        x_hat = self.decoder(z)
        sq = (x_hat.float() - batch.x.float()).pow(2).flatten(1).sum(1)
        with torch.no_grad():  # running latent moments, so `sample` has something to draw from
            zf = z.detach().float()
            self.z_mean.lerp_(zf.mean(0), 0.01)
            self.z_std.lerp_(zf.std(0) if len(zf) > 1 else self.z_std, 0.01)
        return {"loss": sq.mean(), "mse_per_dim": sq.mean().detach() / self.data.dims}

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        x = self.decoder(z)
        return x.clamp(0, 1) if self.data.levels else x

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def sample_latent(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """z ~ N(mean, diag std²) of the training latents: an AE has no prior, this is a rough stand-in."""
        eps = randn((n, self.config.latent_dim), generator=generator, device=self.z_mean.device)
        return self.z_mean + self.z_std * eps

    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        return self.decode(self.sample_latent(n, generator=generator)).float()
