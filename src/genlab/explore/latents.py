"""`LatentSpace`: one model's latent space seen as flat (N, D) tensors.

Models differ in latent shape ((N, D) for AE/VAE/GANs, (N, C, 1, 1) for some conv generators);
exploration maths works on flat vectors and this class reshapes at the model boundary. Encoding and
decoding run in batches under `torch.no_grad`, and asking for a capability the model lacks raises a
GenlabError that names the model and the alternative.

space="w" explores a model's intermediate latent space instead (StyleGAN's W, capabilities to_w and
decode_w): prior latents are w = to_w(z), z from the prior (truncated by the model's ψ), and decoding
calls decode_w, so every tool (interpolation, arithmetic, traversal) works there unchanged.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor

from ..errors import GenlabError
from ..models.base import GenerativeModel


class LatentSpace:
    def __init__(self, model: GenerativeModel, *, name: str = "", batch: int = 500, space: str = "z"):
        self.model, self.batch, self.space = model, batch, space
        self.name = name or type(model).__name__
        self.caps = model.capabilities()
        if not {"decode", "sample_latent"} <= self.caps:
            raise GenlabError(f"model {self.name} has no latent space to explore (it cannot decode latents); "
                              "use an ae, vae or GAN run")
        if space not in ("z", "w"):
            raise GenlabError(f"latent space {space!r} is unknown; choose z (the prior) or w (StyleGAN's W)")
        if space == "w" and not {"to_w", "decode_w"} <= self.caps:
            raise GenlabError(f"model {self.name} has no intermediate latent space W; use --space z")
        probe = self._draw(1, torch.Generator(model.device).manual_seed(0))
        self.shape = tuple(probe.shape[1:])
        self.dim = int(probe[0].numel())

    @torch.no_grad()
    def _draw(self, n: int, generator: torch.Generator) -> Tensor:
        z = self.model.sample_latent(n, generator=generator)
        return self.model.to_w(z) if self.space == "w" else z

    @property
    def can_encode(self) -> bool:
        return "encode" in self.caps and self.space == "z"

    def require_encoder(self, what: str, instead: str) -> None:
        if not self.can_encode:
            raise GenlabError(f"model {self.name} has no encoder, so it cannot {what}; {instead}")

    def _unflat(self, z: Tensor) -> Tensor:
        return z.reshape(len(z), *self.shape)  # (N, D) -> (N, *latent shape)

    @torch.no_grad()
    def prior(self, n: int, generator: torch.Generator) -> Tensor:
        """n latents from the model's prior (space w: their w = to_w(z)), (n, D) float32 on the CPU."""
        out = [self._draw(min(self.batch, n - i), generator).float().cpu() for i in range(0, n, self.batch)]
        return torch.cat(out).reshape(n, self.dim)  # (n, *shape) -> (n, D)

    @torch.no_grad()
    def seeded(self, seeds: list[int]) -> Tensor:
        """One prior latent per seed (a seed always gives the same latent), (len(seeds), D)."""
        dev = self.model.device
        return torch.cat([self.prior(1, torch.Generator(dev).manual_seed(s)) for s in seeds])

    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        """Images (N, ...) in [0, 1] -> latents (N, D) (VAE: the posterior mean)."""
        self.require_encoder("encode images", "draw latents from the prior instead")
        dev = self.model.device
        out = [self.model.encode(x[i:i + self.batch].to(dev)).float().cpu() for i in range(0, len(x), self.batch)]
        return torch.cat(out).reshape(len(x), self.dim)  # (N, *shape) -> (N, D)

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """Latents (..., D) -> images (..., C, H, W) in [0, 1] (decoder mean / generator output)."""
        lead = z.shape[:-1]
        flat = z.reshape(-1, self.dim)  # (..., D) -> (M, D)
        dev = self.model.device
        fn = self.model.decode_w if self.space == "w" else self.model.decode
        out = [fn(self._unflat(flat[i:i + self.batch]).to(dev)).float().cpu().clamp(0, 1)
               for i in range(0, len(flat), self.batch)]
        x = torch.cat(out)
        return x.reshape(*lead, *x.shape[1:])  # (M, C, H, W) -> (..., C, H, W)

    def moments(self, n: int = 2000, seed: int = 0) -> tuple[Tensor, Tensor]:
        """Per-dimension mean and std of the prior, estimated from n draws ((D,), (D,))."""
        z = self.prior(n, torch.Generator(self.model.device).manual_seed(seed))
        return z.mean(0), z.std(0)

    @torch.no_grad()
    def labelled_prior(self, n: int, classify: Callable[[Tensor], Tensor], generator: torch.Generator,
                       min_confidence: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
        """For models without an encoder: n prior latents, their decoded images and the labels a
        classifier gives them. classify: images (B, C, H, W) -> class probabilities (B, K).
        Samples whose top probability is below `min_confidence` get label −1 (excluded from means)."""
        z = self.prior(n, generator)
        x = self.decode(z)
        p = torch.cat([classify(x[i:i + self.batch]) for i in range(0, n, self.batch)])  # (n, K)
        conf, y = p.max(1)
        y = torch.where(conf >= min_confidence, y, torch.full_like(y, -1))
        return z, x, y


def batched_features(fn: Callable[[Tensor], Tensor], x: Tensor, batch: int = 500,
                     device: Optional[torch.device] = None) -> Tensor:
    """Apply a feature function over x in batches: (N, ...) -> (N, F) float32 on the CPU."""
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch] if device is None else x[i:i + batch].to(device)).float().cpu()
                          .reshape(len(x[i:i + batch]), -1) for i in range(0, len(x), batch)])
