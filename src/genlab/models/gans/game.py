"""The adversarial game shared by every GAN in genlab (Goodfellow et al. 2014):

    min_G max_D  E_x[log D(x)] + E_z[log(1 − D(G(z)))],

run as two phases per step (DESIGN §2): the D phase every step, the G phase every `n_critic` steps
(the seed's "k discriminator steps per generator step"). The loss pair comes from the registry
(`LOSSES[config.loss]`); the model reads what the loss declares (labels, penalty, clipping, energy
output, k_t balance) and never branches on its name.

WGAN weight clipping is a projection applied at the start of each D loss call (under no_grad), i.e.
just before the D update that uses it: models never call optimizer.step, so "clip after the step"
becomes "clip before the next one". The only difference is that the G phase of the same step sees D
one Adam step (|Δw| ≲ lr) outside the box. A clamp parametrisation was rejected because a weight
that crosses ±c then gets zero gradient forever.

Packing (PacGAN, Lin et al. 2018; `self.pack` = m, set by models whose D is built for it): D's real
and fake inputs are packed after the per-example tricks (label flip, instance noise), so D, its
gradient penalty (interpolates, perturbations and gradient norms per packed example) and BEGAN's
energies all act on packs of m samples.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Optional

import torch
from torch import Tensor, nn

from ...losses.adversarial import AdversarialLoss
from ...registry import LOSSES
from ..base import Batch, DataInfo, GenerativeModel, Phase, randn
from . import tricks
from .began import EquilibriumControl


@dataclass
class AdversarialConfig:
    """Keys shared by all GANs (`--model.KEY`)."""

    loss: str = "nonsaturating"  # genlab list losses
    latent_dim: int = 64  # size of z ~ N(0, I) fed to G
    n_critic: int = 0  # D steps per G step; 0 = the loss's recommendation (5 for wgan/wgan-gp, else 1)
    penalty_weight: float = 10.0  # λ of the gradient penalty (wgan-gp, dragan)
    label_smoothing: float = 0.0  # one-sided: real target 1 - s (losses with labels)
    label_flip: float = 0.0  # probability of swapping an example's real/fake sides in the D loss
    instance_noise: float = 0.0  # σ₀ of Gaussian noise on D's inputs (model space, images in [-1, 1])
    noise_anneal_steps: int = 0  # σ_t decays linearly to 0 over this many steps; 0 = constant
    spectral_norm: bool = False  # spectral normalisation of D's weights
    began_gamma: float = 0.5  # BEGAN diversity ratio γ = E[L(G(z))] / E[L(x)]
    began_lambda_k: float = 0.001  # BEGAN proportional gain λ_k

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"model.loss={self.loss!r} is invalid; expected one of {', '.join(LOSSES)}")
        adv = LOSSES[self.loss]
        checks = [
            (self.latent_dim >= 1, "latent_dim", ">= 1"),
            (self.n_critic >= 0, "n_critic", ">= 0 (0 = the loss's default)"),
            (self.penalty_weight >= 0, "penalty_weight", ">= 0"),
            (0 <= self.label_smoothing < 0.5, "label_smoothing", "in [0, 0.5)"),
            (0 <= self.label_flip < 0.5, "label_flip", "a probability in [0, 0.5)"),
            (self.instance_noise >= 0, "instance_noise", ">= 0"),
            (self.noise_anneal_steps >= 0, "noise_anneal_steps", ">= 0"),
            (0 < self.began_gamma <= 1, "began_gamma", "in (0, 1]"),
            (self.began_lambda_k >= 0, "began_lambda_k", ">= 0"),
        ]
        for ok, key, want in checks:
            if not ok:
                raise ValueError(f"model.{key}={getattr(self, key)!r} is invalid; expected {want}")
        if self.label_smoothing and not adv.labels:
            with_labels = ", ".join(n for n in LOSSES if LOSSES[n].labels)
            raise ValueError(f"model.label_smoothing={self.label_smoothing} is invalid with "
                             f"model.loss={self.loss} (it has no labels); expected 0, or a loss with "
                             f"labels: {with_labels}")


class AdversarialModel(GenerativeModel):
    """Base of `gan` and `dcgan`: subclasses build `self.generator` (z -> model space) and
    `self.discriminator` (model space -> (B,) or (B, 1) outputs), then call `self._finish()`.

    Model space is [−1, 1] for images (data [0, 1] mapped by 2x − 1) and raw coordinates for vectors.
    """

    ema_default = ("generator",)
    provides = frozenset({"decode", "sample_latent"})
    # per loss: {"model": {...}, "train": {...}} defaults replacing the model's for runs with that loss
    # (one default set of hyperparameters per loss); presets and CLI values still win
    loss_defaults: dict[str, dict[str, dict]] = {}
    pack = 1  # PacGAN degree m: D sees m samples per input (models whose D is built for m·d inputs set it)
    generator: nn.Module
    discriminator: nn.Module

    def __init__(self, config: AdversarialConfig, data: DataInfo):
        super().__init__(config, data)
        self.adv: AdversarialLoss = LOSSES[config.loss]
        self.n_critic = config.n_critic or self.adv.n_critic
        self.control = (EquilibriumControl(gamma=config.began_gamma, lambda_k=config.began_lambda_k)
                        if self.adv.balance else None)

    @classmethod
    def defaults_for(cls, config) -> dict[str, dict]:
        layer, own = super().defaults_for(config), cls.loss_defaults.get(config.loss, {})
        return {"model": dict(own.get("model", {})), "train": {**layer["train"], **own.get("train", {})}}

    def _finish(self) -> None:
        if self.config.spectral_norm:
            tricks.spectral_normalize(self.discriminator)

    # --- the contract -------------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"discriminator": list(self.discriminator.parameters()),
                "generator": list(self.generator.parameters())}

    def phases(self, step: int) -> list[Phase]:
        return [Phase("discriminator", partial(self.d_loss, step=step)),
                Phase("generator", partial(self.g_loss, step=step), every=self.n_critic)]

    # --- spaces -------------------------------------------------------------------------------
    @property
    def _unit_range(self) -> bool:
        """Bounded images: G works on [−1, 1] (tanh) and maps to model space [0, 1]; physical fields and
        vectors are used as they are (standardised by the data's normaliser)."""
        return self.data.is_image and self.data.bounded

    def to_model(self, x: Tensor) -> Tensor:
        return x * 2.0 - 1.0 if self._unit_range else x

    def to_data(self, y: Tensor) -> Tensor:
        return ((y.float() + 1.0) / 2.0).clamp(0.0, 1.0) if self._unit_range else y.float()

    def discriminate(self, x: Tensor, batch: Batch) -> Tensor:
        """D's verdict on G-space inputs x (B, ...) of this batch. Conditional models override it to feed
        D what it conditions on (cat(A, B) for pix2pix, labels for a projection discriminator)."""
        return self.discriminator(x)

    def real(self, batch: Batch) -> Tensor:
        """The real examples of this batch that D learns to accept (model space; default the primary `x`;
        pix2pix: the target field)."""
        return batch.x

    def g_terms(self, batch: Batch, fake: Tensor) -> dict[str, tuple[float, Tensor]]:
        """Extra generator terms on this G phase's fakes (G space, before instance noise): name ->
        (weight, value); L_G += Σ weight · value and each value is logged (pix2pix: λ = 100, L1)."""
        return {}

    def generate_fake(self, n: int, batch: Batch) -> Tensor:
        """n fakes in G space for this batch (conditional models read their inputs from `batch`)."""
        return self.generator(self.sample_latent(n, generator=batch.generator))

    def check_train(self, train) -> None:
        if self.pack > train.batch_size:
            raise ValueError(f"model.pack={self.pack} needs at least {self.pack} examples per batch, but "
                             f"train.batch_size={train.batch_size}; lower model.pack or raise train.batch_size")

    def sample_latent(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        return randn((n, self.config.latent_dim), generator=generator, device=self.device)

    def decode(self, z: Tensor) -> Tensor:
        """G(z) in data space."""
        return self.to_data(self.generator(z))

    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """x = G(z), z ~ N(0, I), in data space (images in [0, 1])."""
        return self.decode(self.sample_latent(n, generator=generator))

    # --- the two losses -----------------------------------------------------------------------
    def _noisy(self, x: Tensor, step: int, generator) -> Tensor:
        sigma = tricks.noise_std(step, self.config.instance_noise, self.config.noise_anneal_steps)
        return tricks.instance_noise(x, sigma, generator=generator)

    def d_loss(self, batch: Batch, *, step: int = 0) -> dict:
        """L_D of the configured loss (+ λ·penalty), G's samples detached (drawn under no_grad)."""
        cfg, adv, g = self.config, self.adv, batch.generator
        if adv.clip > 0:
            tricks.clip_weights_(self.discriminator, adv.clip)
        real = self.to_model(self.real(batch))
        with torch.no_grad():
            fake = self.generate_fake(real.shape[0], batch).view(real.shape)
        real, fake = tricks.flip_labels(real, fake.to(real.dtype), cfg.label_flip, generator=g)
        real, fake = self._noisy(real, step, g), self._noisy(fake, step, g)
        real, fake = tricks.pack(real, self.pack), tricks.pack(fake, self.pack)  # (B/m, m·d, ...)
        # Separate passes, as in DCGAN: with batch norm in D a mixed real+fake batch would give D batch
        # statistics that the G phase (fakes only) never sees, so D's verdicts would not transfer.
        out_real = self.discriminate(real, batch).float().reshape(-1)  # (B, 1) or (B,) -> (B,)
        out_fake = self.discriminate(fake, batch).float().reshape(-1)
        kw: dict = {}
        if adv.labels:
            kw["real_label"] = 1.0 - cfg.label_smoothing
        if self.control is not None:
            kw["k"] = self.control.k.clone()  # the buffer is updated in place below
        loss = adv.d(out_real, out_fake, **kw)
        logs = {"d_real": out_real.mean().detach(), "d_fake": out_fake.mean().detach()}
        if adv.penalty is not None and cfg.penalty_weight > 0:
            pen = adv.penalty(lambda v: self.discriminate(v, batch), real, fake, generator=g)
            loss = loss + cfg.penalty_weight * pen
            logs["penalty"] = pen.detach()
        if self.control is not None:
            logs.update(self.control.update(out_real, out_fake))
        return {"loss": loss, **logs}

    def g_loss(self, batch: Batch, *, step: int = 0) -> dict:
        """L_G of the configured loss on fresh z; D is frozen by the trainer (no D gradients)."""
        n = self.real(batch).shape[0]
        made = self.generate_fake(n, batch).view(n, *self.data.shape)  # (B, ...) data shape
        fake = self._noisy(made, step, batch.generator)
        out = self.discriminate(tricks.pack(fake, self.pack), batch).float()  # (B/m, 1) or (B/m,)
        if self.adv.g_needs_real:  # relativistic losses: G's loss also depends on D(x)
            real = tricks.pack(self._noisy(self.to_model(self.real(batch)), step, batch.generator), self.pack)
            loss = self.adv.g(out, self.discriminate(real, batch).float())
        else:
            loss = self.adv.g(out)
        logs = {"d_fake_g": out.mean().detach()}
        terms = self.g_terms(batch, made)
        if terms:
            logs["g_adv"] = loss.detach()
            for name, (weight, value) in terms.items():
                loss = loss + weight * value
                logs[name] = value.detach()
        return {"loss": loss, **logs}
