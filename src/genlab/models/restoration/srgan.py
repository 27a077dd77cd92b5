"""`srgan`: perceptual super-resolution with an adversarial game (Ledig et al. 2017, SRGAN):

    min_G max_D  E[log D(I_HR)] + E[log(1 − D(G(I_LR)))],
    L_G = l_content + w_adv · L_G^adv(D(G(I_LR))),          w_adv = `adversarial_weight` (1e-3, the paper's),

on the one trainer as the game's two phases (gans/game.py: D every step, G every n_critic steps).

Generator: the SRResNet of `srresnet` (nn/superres.py), initialised from a trained srresnet run with
`model.init_from=RUN` (the paper initialises SRGAN with its MSE-trained SRResNet "to avoid undesired
local optima"). The run's newest weights (EMA where present) are read from its safetensors once, when a
new srgan run starts (runs.warm_start); a run that is not an srresnet of the same scale, width, blocks,
norm and channels is refused in one line before any directory exists. Without init_from, G starts from
the seeded initialisation and `model.pretrain=N` runs N G-only pixel-MSE steps first (DESIGN §2).

Discriminator: the paper's VGG-style D (8 3x3 convs, widths 64-64-128-128-256-256-512-512, strides
1-2-…, LeakyReLU 0.2, batch norm, dense 1024, dense 1; nn/superres.py SRDiscriminator), on G-space images
([−1, 1]) of the training crop size (its dense layer fixes it). `d_stages` stride-2 blocks (4) and `d_base`
(64) scale it down for small crops. The adversarial pair is any registered loss (`model.loss`, default
`nonsaturating` = the paper's −log D(G(I_LR))), except began.

Content loss (`model.content`), chosen to need no downloaded network:
- `feature-matching` (default): discriminator feature matching (Salimans et al. 2016; pix2pixHD's L_FM,
  Wang et al. 2018), l_content = (1/L) Σ_l mean |D_l(G(I_LR)) − D_l(I_HR)| over D's activations after its
  first conv and after each stride-2 block (L = d_stages + 1), real features taken without gradient.
  Why: SRGAN's content loss is a distance in the feature space of a network trained on natural images
  (VGG19 on ImageNet, which genlab does not ship and never downloads). The features genlab has offline
  are not fit for it: the Fashion-MNIST/digits classifiers see 28x28 grey clothes and digits, and the FID
  Inception net is the network the perceptual result is *measured* with (training against it would
  optimise the metric). D's features are learnt on the very HR photos being judged, at every scale from
  pixels (first conv: keeps colours and layout) to 1/16 resolution (texture statistics), and work for any
  channel count or physical field. Their drawback — they move as D trains — is the point of the game.
- `mse`: the paper's SRGAN-MSE row, l_content = mean (G(I_LR) − I_HR)² in G space.
`pixel_weight` adds w · MSE to either (0 by default).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from ...errors import GenlabError
from ...nn.superres import SRDiscriminator
from ...registry import LOSSES, register_model
from ..base import Batch, DataInfo, GenerativeModel, Phase
from ..gans.game import AdversarialConfig, AdversarialModel
from .common import SuperResConfig, SuperResolution, data_defaults


@dataclass
class SRGANConfig(SuperResConfig, AdversarialConfig):
    """`--model.KEY` flags: the super-resolution keys (scale, width, n_blocks, ...), the shared GAN keys
    (loss, n_critic, label_smoothing, ...; latent_dim is unused: no z) and SRGAN's own."""

    init_from: str = ""  # srresnet run directory whose generator initialises G ("" = seeded init)
    pretrain: int = 0  # G-only pixel-MSE steps before the game starts (for runs without init_from)
    adversarial_weight: float = 1e-3  # w_adv of the adversarial term in L_G
    content: str = "feature-matching"  # feature-matching (D's features) | mse (SRGAN-MSE)
    content_weight: float = 1.0  # weight of l_content in L_G
    pixel_weight: float = 0.0  # extra w · MSE(G(lr), hr) in L_G
    d_base: int = 64  # width of D's first convs (doubling per stage)
    d_stages: int = 4  # stride-2 blocks of D (crop size divisible by 2**d_stages)
    d_dense: int = 1024  # width of D's hidden dense layer
    d_norm: str = "auto"  # D's norm: auto (none with gradient-penalty losses, else batch) | batch | none

    def __post_init__(self):
        SuperResConfig.__post_init__(self)
        AdversarialConfig.__post_init__(self)
        checks = [
            (self.pretrain >= 0, "pretrain", ">= 0"), (self.adversarial_weight >= 0, "adversarial_weight", ">= 0"),
            (self.content in ("feature-matching", "mse"), "content", "feature-matching or mse"),
            (self.content_weight >= 0, "content_weight", ">= 0"), (self.pixel_weight >= 0, "pixel_weight", ">= 0"),
            (self.d_base >= 1, "d_base", ">= 1"), (self.d_stages >= 1, "d_stages", ">= 1"),
            (self.d_dense >= 1, "d_dense", ">= 1"),
            (self.d_norm in ("auto", "batch", "none"), "d_norm", "auto, batch or none"),
            (not LOSSES[self.loss].energy, "loss", "a loss without an autoencoder D (not began)"),
        ]
        for ok, key, want in checks:
            if not ok:
                raise ValueError(f"model.{key}={getattr(self, key)!r} is invalid; expected {want}")


@register_model("srgan", config=SRGANConfig, family="conditional",
                help="super-resolution GAN: SRResNet G (model.init_from=SRRESNET_RUN), VGG-style D, "
                     "1e-3 adversarial + D feature-matching content loss (Ledig et al. 2017)",
                tiny={"width": 4, "n_blocks": 1, "scale": 2, "d_base": 4, "d_stages": 2, "d_dense": 8},
                test_data="photos", test_data_options={"size": 16, "n": 64, "derive": "lowres:2"})
class SRGAN(SuperResolution, AdversarialModel):
    provides = SuperResolution.provides
    decode = GenerativeModel.decode  # no latent space: G reads the low-resolution field
    sample_latent = GenerativeModel.sample_latent
    sample = GenerativeModel.sample
    train_defaults = {"lr": 1e-4, "betas": (0.9, 0.999), "batch_size": 16, "steps": 20000}

    @classmethod
    def defaults_for(cls, config: SRGANConfig) -> dict[str, dict]:
        return {**super().defaults_for(config), "data": data_defaults(config)}

    def __init__(self, config: SRGANConfig, data: DataInfo):
        super().__init__(config, DataInfo.of(data.fields, primary=config.target))  # the game's x = the HR field
        self.generator = self.build_generator("srgan", config, data)
        b = data.fields[config.target]
        periodic = tuple(ax + 1 for ax in b.periodic if ax in (1, 2)) or None
        d_norm = config.d_norm if config.d_norm != "auto" else ("none" if self.adv.penalty is not None else "batch")
        try:
            self.discriminator = SRDiscriminator(b.shape[0], b.shape[1:], base=config.d_base, n_stages=config.d_stages,
                                                 dense=config.d_dense, norm=d_norm, padding_mode=config.padding,
                                                 periodic_axes=periodic)
        except ValueError:
            raise GenlabError(f"srgan: the {b.shape[1]}x{b.shape[2]} training crops do not fit a D with "
                              f"model.d_stages={config.d_stages} (sides divisible by {2 ** config.d_stages}); "
                              "lower d_stages or change data.size / the crop") from None
        self._finish()

    # --- initialisation from an srresnet run --------------------------------------------------
    def warm_start_source(self) -> Optional[str]:
        return self.config.init_from or None

    def warm_start(self, run) -> None:
        """G := the generator of `run` (a runs.LoadedRun of srresnet with this scale and shape)."""
        src, cfg, other = self.config.init_from, self.config, run.config.model
        if run.config.model_name != "srresnet":
            raise GenlabError(f"model.init_from={src} is a {run.config.model_name!r} run; srgan starts from an "
                              "srresnet run (train one with genlab train srresnet)")
        keys = ("scale", "width", "n_blocks", "norm", "bicubic_skip")
        diff = [f"{k} {getattr(other, k)} vs {getattr(cfg, k)}" for k in keys if getattr(other, k) != getattr(cfg, k)]
        theirs, mine = run.model.generator.state_dict(), self.generator.state_dict()
        if not diff and any(theirs[k].shape != v.shape for k, v in mine.items()):
            diff = ["channels of the images"]
        if diff:
            raise GenlabError(f"model.init_from={src} is an srresnet of another shape ({', '.join(diff)} here); "
                              f"give an srresnet run with model.scale={cfg.scale}, width={cfg.width}, "
                              f"n_blocks={cfg.n_blocks}, norm={cfg.norm}, bicubic_skip={cfg.bicubic_skip}")
        self.generator.load_state_dict(theirs)

    # --- the game's hooks ---------------------------------------------------------------------
    def generate_fake(self, n: int, batch: Batch) -> Tensor:
        """G(lr) in G space for the batch's first n inputs, (n, C, H, W)."""
        return self.generator(self.g_input(batch[self.config.input][:n]))

    def real(self, batch: Batch) -> Tensor:
        return batch[self.config.target]

    def phases(self, step: int) -> list[Phase]:
        """G-only pixel-MSE phases while step < pretrain, then the game's D and G phases."""
        if step < self.config.pretrain:
            return [Phase("generator", self.pixel_loss)]
        return super().phases(step)

    def pixel_loss(self, batch: Batch) -> dict:
        """L = mean (G(lr) − hr)² in G space (pre-training)."""
        _, err = self.pixel_error(batch)
        mse = err.pow(2).mean()
        return {"loss": mse, "mse": mse.detach()}

    def g_loss(self, batch: Batch, *, step: int = 0) -> dict:
        """L_G = content_weight · l_content + adversarial_weight · L_G^adv + pixel_weight · MSE (module
        docstring); D is frozen by the trainer. D is called with features=True (through its forward, so
        DDP wrappers see the call)."""
        cfg = self.config
        fake, err = self.pixel_error(batch)
        logit_fake, feats_fake = self.discriminator(fake, features=True)
        logit_real = feats_real = None
        if cfg.content == "feature-matching" or self.adv.g_needs_real:
            with torch.no_grad():
                hr = self.g_target(batch[cfg.target]).to(fake.dtype)
                logit_real, feats_real = self.discriminator(hr, features=True)
        out = logit_fake.float().reshape(-1)  # (B, 1) -> (B,)
        adv = self.adv.g(out, logit_real.float().reshape(-1)) if self.adv.g_needs_real else self.adv.g(out)
        mse = err.pow(2).mean()
        if cfg.content == "feature-matching":
            content = torch.stack([(f.float() - r.float()).abs().mean() for f, r in zip(feats_fake, feats_real)]).mean()
        else:
            content = mse
        loss = cfg.content_weight * content + cfg.adversarial_weight * adv + cfg.pixel_weight * mse
        return {"loss": loss, "content": content.detach(), "g_adv": adv.detach(), "mse": mse.detach(),
                "d_fake_g": out.mean().detach()}

    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}
