"""`pix2pix`: paired image-to-image translation with a conditional GAN (Isola et al. 2017):

    G* = arg min_G max_D  L_cGAN(G, D) + λ L_L1(G),
    L_cGAN = E_{a,b}[log D(a, b)] + E_a[log(1 − D(a, G(a)))],     L_L1 = E_{a,b} ‖b − G(a)‖₁,

with `a` = field `model.input`, `b` = field `model.target` (same H × W; channel counts may differ, e.g.
edges 1 → photo 3). There is no z: as in the paper, the only noise is dropout (p = `model.dropout`, 0.5)
in the 3 innermost decoder blocks of the U-Net generator (nn/unet.py). Dropout masks are drawn from the
batch's generator (not torch's global RNG), so runs and resumed runs are reproducible; in eval mode
(previews, `generate`) G is deterministic. (The paper also keeps dropout at test time; not done here.)

Networks: G = U-Net (`base`, `depth`, `norm`), tanh output on [−1, 1] mapped to model space [0, 1] for
bounded targets (images), linear for physical fields. D = conditional PatchGAN on cat(a, b) along
channels (C_a + C_b input channels), receptive field `d_receptive_field` ∈ {1, 16, 34, 70, 142, 286,
"full"} (1 = PixelGAN, 70 = the paper's default, "full" = the smallest PatchGAN covering the image);
its (B, 1, h, w) logits are flattened and the loss averages over patches.

Losses: the adversarial pair is any registered loss (`model.loss`, default `nonsaturating` = the
paper's vanilla GAN with the non-saturating G loss; `lsgan`, `hinge`, `wgan-gp`, … work too) except
`began`, whose D is an autoencoder, not a PatchGAN. G minimises L_G^adv + λ L1 with λ = `l1_weight`
(100, as in the paper), L1 measured in G space ([−1, 1] for images, the paper's scale). D's loss is
halved ("we divide the objective by 2 while optimizing D", §3.3), penalty included. The paper's ablation
rows: "L1 only" = `model.adversarial=false` (G on λ·L1 alone; D is built but never trained), "cGAN only"
= `model.l1_weight=0`, "L1 + cGAN" = the defaults.

The game (gans/game.py) runs unchanged through its hooks: `generate_fake(n, batch)` = G(a) and
`discriminate(x, batch)` = D(cat(a, x)). The game reads the real images from `batch.x` and their shape
and range from `self.data` (the primary field), so this model (1) hands the game a view of the batch
whose `x` is the target field (the input kept under a private name, so `input=x` works too) and (2)
keeps `self.data` with the target as primary field. The game's g_loss does not return its fake, so
generate_fake keeps the one it makes during a G phase for the L1 term (one forward of G per phase).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from ...errors import GenlabError
from ...nn import PatchDiscriminator, UNet, patchgan_for_receptive_field
from ...registry import LOSSES, register_model
from .grid import shared_grid
from ..base import Batch, DataInfo, GenerativeModel, Panel, Phase, rand
from ..gans.game import AdversarialConfig, AdversarialModel



@dataclass
class Pix2PixConfig(AdversarialConfig):
    """`--model.KEY` flags; the shared GAN keys (loss, n_critic, label_smoothing, …) come from
    AdversarialConfig (latent_dim is unused: pix2pix has no z)."""

    input: str = "a"  # field G reads (the condition)
    target: str = "b"  # field G produces
    base: int = 64  # U-Net width at full resolution
    depth: int = 6  # U-Net halvings (H and W divisible by 2**depth; the paper's 256 px G has 8)
    norm: str = "batch"  # G's norm: batch | instance | none
    dropout: float = 0.5  # dropout in the 3 innermost decoder blocks: G's only noise
    d_base: int = 64  # PatchGAN width of its first layer
    d_receptive_field: str = "70"  # 1 | 16 | 34 | 70 | 142 | 286 | full (pixels per judged patch)
    d_norm: str = "auto"  # D's norm: auto (none with gradient-penalty losses, else batch) | batch | instance | none
    l1_weight: float = 100.0  # λ of the L1 term
    test_dropout: bool = False  # keep dropout when translating (the paper's test-time noise): K outputs differ
    adversarial: bool = True  # false = the paper's "L1 only" row: G trained on λ·L1 alone, D never trained

    def __post_init__(self):
        super().__post_init__()
        self.d_receptive_field = str(self.d_receptive_field).strip().lower()
        if self.d_receptive_field != "full":
            try:
                patchgan_for_receptive_field(int(self.d_receptive_field))
            except ValueError:
                raise ValueError(f"model.d_receptive_field={self.d_receptive_field!r} is invalid; expected "
                                 "1, 16, 34, 70, 142, 286 or full") from None
        checks = [
            (self.base >= 1, "base", ">= 1"), (self.depth >= 1, "depth", ">= 1"),
            (self.d_base >= 1, "d_base", ">= 1"), (0.0 <= self.dropout < 1.0, "dropout", "in [0, 1)"),
            (self.l1_weight >= 0, "l1_weight", ">= 0"),
            (self.norm in ("batch", "instance", "none"), "norm", "batch, instance or none"),
            (self.d_norm in ("auto", "batch", "instance", "none"), "d_norm", "auto, batch, instance or none"),
            (not LOSSES[self.loss].energy, "loss", "a loss without an autoencoder D (not began)"),
        ]
        for ok, key, want in checks:
            if not ok:
                raise ValueError(f"model.{key}={getattr(self, key)!r} is invalid; expected {want}")
        if self.input == self.target:
            raise ValueError(f"model.input and model.target are both {self.input!r}; name two fields")
        if not self.adversarial and self.l1_weight == 0:
            raise ValueError("model.adversarial=false with model.l1_weight=0 leaves G nothing to learn; "
                             "set one of them")

    def d_layers(self, image_size: int) -> int:
        """n_layers of the PatchGAN for this config on images of side `image_size` (pixels)."""
        rf = self.d_receptive_field
        return patchgan_for_receptive_field(rf if rf == "full" else int(rf), image_size=image_size)


class GeneratorDropout(nn.Module):
    """Inverted dropout whose mask comes from `self.generator` (set by the model around each G call):
    (B, ...) -> (B, ...), x · 1[u ≥ p] / (1 − p), u ~ U[0, 1); identity in eval mode."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.generator: Optional[torch.Generator] = None
        self.force = False  # drop in eval mode too (test-time dropout)

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training or self.force) or self.p == 0:
            return x
        u = rand(x.shape, generator=self.generator, device=x.device, dtype=torch.float32)
        return x * ((u >= self.p).to(x.dtype) / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _seeded_dropout(net: nn.Module) -> list[GeneratorDropout]:
    """Replace every nn.Dropout inside `net` by a GeneratorDropout (no parameters change); return them."""
    out = []
    for module in list(net.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.Dropout):
                new = GeneratorDropout(child.p)
                setattr(module, name, new)
                out.append(new)
    return out


@register_model("pix2pix", config=Pix2PixConfig, family="conditional",
                help="paired translation a -> b: U-Net G (dropout noise), conditional PatchGAN D on cat(a, b), "
                     "adversarial + 100 L1 (Isola et al. 2017); any adversarial loss",
                tiny={"base": 4, "depth": 3, "d_base": 4, "d_receptive_field": 16, "input": "edges", "target": "x"},
                test_data="digits", test_data_options={"derive": "edges"})
class Pix2Pix(AdversarialModel):
    conditional = True
    directions = ("AtoB",)  # input -> target
    provides = frozenset({"generate", "translate"})
    decode = GenerativeModel.decode  # no latent space: G reads an input field
    sample_latent = GenerativeModel.sample_latent
    sample = GenerativeModel.sample
    train_defaults = {"lr": 2e-4, "betas": (0.5, 0.999), "batch_size": 16, "steps": 5000}

    @classmethod
    def required_fields(cls, config: Pix2PixConfig) -> dict[str, tuple[str, ...]]:
        return {config.input: ("image", "field"), config.target: ("image", "field")}

    @classmethod
    def paired_fields(cls, config: Pix2PixConfig) -> tuple[str, ...]:
        return (config.input, config.target)  # learns from aligned pairs

    def __init__(self, config: Pix2PixConfig, data: DataInfo):
        a, b = data.fields[config.input], data.fields[config.target]
        h, w = shared_grid("pix2pix", data, config.input, config.target, halvings=config.depth, key="depth")
        # the game reads the primary field's shape and range: make it the target (G's output)
        super().__init__(config, DataInfo.of(data.fields, primary=config.target))
        self.input_bounded = a.bounded
        periodic = tuple(ax + 1 for ax in b.periodic if ax in (1, 2)) or None  # (C, H, W) axes -> (B, C, H, W)
        unet = UNet(a.shape[0], b.shape[0], base=config.base, depth=config.depth, norm=config.norm,
                    dropout=config.dropout, periodic_axes=periodic,
                    out_activation="tanh" if self._unit_range else "none")
        self._dropouts = _seeded_dropout(unet)  # a plain list: the modules stay registered in G only
        self.size_multiple = 2 ** config.depth
        self.stochastic = config.test_dropout and config.dropout > 0
        self.generator = unet
        d_norm = config.d_norm if config.d_norm != "auto" else ("none" if self.adv.penalty is not None else "batch")
        n_layers = config.d_layers(max(h, w))
        self.discriminator = PatchDiscriminator(a.shape[0] + b.shape[0], base=config.d_base, n_layers=n_layers,
                                                norm=d_norm, periodic_axes=periodic)
        gh, gw = self.discriminator.logit_grid(h, w)
        if gh < 1 or gw < 1:
            raise GenlabError(f"model.d_receptive_field={config.d_receptive_field} is too large for "
                              f"{h}x{w} fields (no patch fits); use a smaller one or full")
        self._finish()

    def phases(self, step: int) -> list[Phase]:
        """The game's D and G phases; with model.adversarial=false only a G phase on λ·L1 (no D forward)."""
        if self.config.adversarial:
            return super().phases(step)
        return [Phase("generator", self.l1_loss)]

    def l1_loss(self, batch: Batch) -> dict:
        """L_G = λ mean |G(a) − b| in G space (the "L1 only" ablation)."""
        fake = self.generate_fake(batch[self.config.target].shape[0], batch)
        l1 = (fake.float() - self.to_model(batch[self.config.target]).float()).abs().mean()
        return {"loss": self.config.l1_weight * l1, "l1": l1.detach()}

    # --- spaces -------------------------------------------------------------------------------
    def condition(self, batch: Batch) -> Tensor:
        """The input a in G space (B, C_a, H, W): 2a − 1 for bounded images, as it is for fields."""
        a = batch[self.config.input]
        return a * 2.0 - 1.0 if self.input_bounded else a

    @contextmanager
    def _noise(self, generator: Optional[torch.Generator], force: bool = False):
        """G's dropout masks drawn from `generator` inside the block (also in eval mode when `force`)."""
        for d in self._dropouts:
            d.generator, d.force = generator, force
        try:
            yield
        finally:
            for d in self._dropouts:
                d.generator, d.force = None, False

    # --- the game's hooks ---------------------------------------------------------------------
    def generate_fake(self, n: int, batch: Batch) -> Tensor:
        """G(a) in G space for the batch's first n inputs, (n, C_b, H, W); dropout from batch.generator."""
        with self._noise(batch.generator):
            fake = self.generator(self.condition(batch)[:n])
        return fake

    def discriminate(self, x: Tensor, batch: Batch) -> Tensor:
        """D(cat(a, x)) for G-space targets x (B, C_b, H, W): patch logits (B, 1, h, w)."""
        a = self.condition(batch)
        return self.discriminator(torch.cat([a[: x.shape[0]].to(x.dtype), x], 1))  # (B, C_a + C_b, H, W)

    # --- the losses ---------------------------------------------------------------------------
    def real(self, batch: Batch) -> Tensor:
        """Real pairs are (a, b): D is shown the target b next to its input."""
        return batch[self.config.target]

    def d_loss(self, batch: Batch, *, step: int = 0) -> dict:
        """½ L_D of the configured loss (the paper halves D's objective), real = (a, b), fake = (a, G(a))."""
        out = super().d_loss(batch, step=step)
        return {**out, "loss": 0.5 * out["loss"]}

    def g_terms(self, batch: Batch, fake: Tensor) -> dict[str, tuple[float, Tensor]]:
        """L_G = L_G^adv(D(a, G(a))) + λ mean |G(a) − b|, the L1 in G space ([−1, 1] for images, the paper's
        scale), on the G phase's one forward of G."""
        l1 = (fake.float() - self.to_model(batch[self.config.target]).float()).abs().mean()
        return {"l1": (self.config.l1_weight, l1)}

    # --- outputs ------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, batch: Batch, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """b̂ = G(a) in model space of the target field, (B, C_b, H, W) (dropout masks from `generator`
        when G is in train mode; deterministic in eval mode)."""
        with self._noise(generator):
            return self.to_data(self.generator(self.condition(batch)))

    @torch.no_grad()
    def translate(self, x: Tensor, direction: str = "AtoB", *, generator: Optional[torch.Generator] = None,
                  dropout: Optional[bool] = None) -> Tensor:
        """G(x) in model space of the target, for inputs (B, C_a, H, W) of any H, W divisible by 2**depth
        (fully convolutional). dropout (default `model.test_dropout`): keep G's dropout at test time, masks
        from `generator`, as the paper does — then K calls give K different outputs."""
        self.translation_fields(direction)  # only AtoB
        a = x * 2.0 - 1.0 if self.input_bounded else x
        keep = self.config.test_dropout if dropout is None else dropout
        with self._noise(generator, force=keep):
            return self.to_data(self.generator(a)).float()

    def preview(self, batch: Optional[Batch], *, n: int, generator: Optional[torch.Generator] = None) -> list[Panel]:
        """input | output | target for the first examples of the data (a 1-channel input is drawn in grey
        next to a multi-channel target)."""
        if batch is None:
            raise GenlabError("pix2pix previews need input examples")
        cfg = self.config
        a, b = batch[cfg.input], batch[cfg.target]
        if a.shape[1] == 1 and b.shape[1] > 1:
            a = a.expand(-1, b.shape[1], -1, -1)  # (B, 1, H, W) -> (B, C_b, H, W), grey
        return [Panel(cfg.input, a, cfg.input), Panel("output", self.generate(batch, generator=generator), cfg.target),
                Panel(cfg.target, b, cfg.target)]
