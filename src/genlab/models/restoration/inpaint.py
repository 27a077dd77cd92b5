"""`inpaint`: image and field inpainting with a partial-convolution U-Net (Liu et al. 2018):

    I_out = U(I_in ⊙ M, M),        I_comp = (1 − M) ⊙ I_out + M ⊙ I_gt,
    L = L_valid + 6 L_hole + 0.05 L_perc + 120 (L_style_out + L_style_comp) + 0.1 L_tv   (the paper's weights)

(losses/inpainting.py has each term; U = nn/partialconv.py `PartialConvUNet`). Fields: the target `model.target`
(default `x`, an image or a standardised physical field of any channel count) and the mask `model.mask`
(default `mask`, 1 = known, 0 = hole, one channel or one per channel), drawn per batch by
`data.derive=mask:strokes|boxes|mixed` (set to mask:mixed by default) or given by the data. Where the target has
observational gaps (its spec names a validity field, e.g. COADS's `x_valid`), the network's input mask is
M · valid and errors count only where the truth is observed.

Weights (`--model.KEY`): valid_weight 1, hole_weight 6, tv_weight 0.1 (the paper's); `error=l2` squares the
valid/hole errors (the paper's are L1) for fields scored by RMSE. The perceptual and
style terms need a feature network ψ; the paper's is an ImageNet VGG-16, which genlab does not ship and never
downloads, so they are off by default (perceptual_weight = style_weight = 0; the paper's 0.05 and 120 are the
values to set) and, when set, use the features of the optional PatchGAN discriminator (its activations after
every LeakyReLU: learnt on the data being inpainted, for any channel count or physical field — the reason
srgan uses D's features too; the FID Inception net is the measuring instrument and the bundled classifiers see
28 px digits and clothes). They need adversarial_weight > 0. `adversarial_weight` > 0 adds a PatchGAN D
(nn/patchgan.py) on G-space composites vs ground truth, `gan_loss` (nonsaturating) from the registry, and its
own D phase; G's loss gains adversarial_weight · L_G^adv. Not in the paper (its GAN-free result is the point).

Spaces: bounded images enter U as 2x − 1 (holes then read as mid-grey, not black) and its linear output is read
on [−1, 1]; physical fields are used as they are (standardised: a hole is the mean). The losses are measured in
model space ([0, 1] images, standardised fields).

THE INTERFACE other code uses (genlab inpaint, genlab eval, the climate gap filling) — kept stable:

    model.infill(x: Tensor, mask: Tensor, context=None, context_mask=None) -> Tensor
        x (N, C, H, W) in model space of the target field; values in holes are ignored (NaN allowed there).
        mask (N, 1, H, W) or (N, C, H, W) float, 1 = known, 0 = hole. Any H, W: the input is padded at the
        bottom/right to a multiple of 2**depth with holes and the output cropped back.
        context (N, C_c, H, W), context_mask (N, C_c, H, W): the extra input channels of a run trained with
        `model.context_field` (e.g. neighbouring months, model space), required then, refused otherwise.
        Returns the raw network output (N, C, H, W) in model space (images clamped to [0, 1]; fields as
        computed), without compositing: the caller composites out · (1 − m) + x · m. No gradients.

Context (`model.context_field=NAME`, e.g. `x_months` of `coads-holdout --data.context=K`): a field of C_c extra
channels on the target's grid, with its own validity mask (its spec's `valid`), enters the network beside the
target, I_out = U([I_in ⊙ M, X_c ⊙ M_c], [M, M_c]); the output and the losses are the target's channels only.
`model.residual=context_mean` makes U predict the departure from the context's mean instead,
I_out = b + U(...) − U_0 with b = Σ_k M_c,k X_c,k / Σ_k M_c,k (U_0 = the output space's zero; where no
context value is valid, b = the local mean of the target's own known cells, nn/fill.py): for gaps filled from neighbouring months, the anomaly, which is what anomaly-kriging
interpolates (apply/gap_baselines.py).
`model.residual=harmonic|biharmonic` uses a base made from the target's own known cells instead — the
harmonic interpolant (Δb = 0 in the holes; nn/fill.py, multigrid red-black SOR in torch, longitude wrapping)
or skimage's biharmonic one (Δ²b = 0, the evaluation's baseline) — and feeds it to U with the hole mask as
known channels: I_out = b + U([I_in ⊙ M, X_c ⊙ M_c, b, M], [M, M_c, 1, 1]) − U_0. U then learns the
correction to a classical interpolant rather than the whole fill (the residual learning of DnCNN; a coarse
fill refined by a network, as in two-stage inpainting).

`generate(batch)` returns the composite for the batch's mask; `model.context` is the receptive radius a tile
needs (apply/tiles.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import GenlabError
from ...losses import inpainting as L
from ...nn.fill import biharmonic_fill, harmonic_fill, local_mean_fill
from ...nn.partialconv import PartialConvUNet
from ...nn.patchgan import PatchDiscriminator
from ...registry import LOSSES, register_model
from ..base import Batch, DataInfo, GenerativeModel, Panel, Phase


RESIDUALS = ("none", "context_mean", "harmonic", "biharmonic")
FILL_BASES = ("harmonic", "biharmonic")  # bases computed from the target's own known cells


@dataclass
class InpaintConfig:
    """`--model.KEY` flags of `inpaint` (the paper's values where it has them)."""

    target: str = "x"  # field to inpaint
    mask: str = "mask"  # mask field, 1 = known, 0 = hole (data.derive=mask:... makes it)
    depth: int = 5  # encoder levels (H, W are padded to multiples of 2**depth; the paper: 8 at 512 px)
    base: int = 64  # channels of the first level, doubled per level
    max_channels: int = 512  # channel cap (the paper's 512)
    norm: str = "batch"  # batch (the paper's) | instance | group | none
    padding: str = "zeros"  # zeros (the paper's) | reflect | replicate; periodic field axes always wrap
    valid_weight: float = 1.0  # weight of L_valid, the L1 on known pixels (the paper's 1)
    hole_weight: float = 6.0  # weight of L_hole, the L1 on hole pixels (the paper's 6)
    tv_weight: float = 0.1  # weight of L_tv on the 1-px dilated hole region (the paper's 0.1)
    perceptual_weight: float = 0.0  # weight of L_perc on D's features (the paper's 0.05); needs adversarial_weight > 0
    style_weight: float = 0.0  # weight of L_style_out + L_style_comp (the paper's 120); needs adversarial_weight > 0
    adversarial_weight: float = 0.0  # > 0: a PatchGAN D and its phase (not in the paper)
    gan_loss: str = "nonsaturating"  # adversarial pair from the registry (no penalty/clipping/energy losses)
    d_base: int = 64  # PatchGAN width
    d_layers: int = 3  # PatchGAN stride-2 layers (3 = the 70 px patches of pix2pix)
    context_field: str = ""  # extra input channels (e.g. x_months: neighbouring months), never predicted
    error: str = "l1"  # l1 (the paper's) | l2: squared errors in L_valid and L_hole (for RMSE-scored fields)
    residual: str = "none"  # none | context_mean | harmonic | biharmonic: U predicts the departure from that base
    init_from: str = ""  # inpaint run whose U (and D) start this run: fine-tuning, e.g. with model.error=l2

    def __post_init__(self):
        weights = ("valid_weight", "hole_weight", "tv_weight", "perceptual_weight", "style_weight",
                   "adversarial_weight")
        checks = [(self.depth >= 1, "depth", ">= 1"), (self.base >= 1, "base", ">= 1"),
                  (self.max_channels >= 1, "max_channels", ">= 1"),
                  (self.norm in ("batch", "instance", "group", "none"), "norm", "batch, instance, group or none"),
                  (self.padding in ("zeros", "reflect", "replicate"), "padding", "zeros, reflect or replicate"),
                  (self.d_base >= 1, "d_base", ">= 1"), (self.d_layers >= 0, "d_layers", ">= 0"),
                  (self.error in ("l1", "l2"), "error", "l1 or l2"),
                  (self.residual in RESIDUALS, "residual", "none, context_mean, harmonic or biharmonic")]
        checks += [(getattr(self, w) >= 0, w, ">= 0") for w in weights]
        for ok, key, want in checks:
            if not ok:
                raise ValueError(f"model.{key}={getattr(self, key)!r} is invalid; expected {want}")
        if self.target == self.mask or self.context_field in (self.target, self.mask):
            raise ValueError(f"model.target, model.mask and model.context_field name the same field; name distinct "
                             f"fields (target {self.target!r}, mask {self.mask!r}, context {self.context_field!r})")
        if self.residual == "context_mean" and not self.context_field:
            raise ValueError("model.residual=context_mean needs context channels; set model.context_field too "
                             "(e.g. x_months with coads-holdout --data.context=1)")
        if (self.perceptual_weight or self.style_weight) and not self.adversarial_weight:
            raise ValueError("model.perceptual_weight / model.style_weight need a feature network: genlab has no "
                             "VGG, so they use the PatchGAN's features; set model.adversarial_weight > 0 too")
        if self.gan_loss not in LOSSES:
            raise ValueError(f"model.gan_loss={self.gan_loss!r} is not a registered loss; see genlab list losses")
        adv = LOSSES[self.gan_loss]
        if adv.penalty or adv.clip or adv.energy or adv.balance or adv.g_needs_real:
            raise ValueError(f"model.gan_loss={self.gan_loss!r} needs a penalty, clipping or an energy D; use "
                             "nonsaturating, minimax, lsgan or hinge")


def data_defaults(config: InpaintConfig) -> dict:
    """The default data layer: free-form and box masks when the mask is the derived `mask` field."""
    return {"derive": "mask:mixed"} if config.mask == "mask" else {}


class FeaturePatchGAN(nn.Module):
    """A PatchGAN whose forward can also return its activations after every LeakyReLU (the perceptual and
    style features): forward(x, features=False) -> logits (B, 1, h, w) [, list of (B, C_p, H_p, W_p)]."""

    def __init__(self, channels: int, *, base: int, n_layers: int, periodic_axes=None):
        super().__init__()
        self.patchgan = PatchDiscriminator(channels, base=base, n_layers=n_layers, norm="batch",
                                           periodic_axes=periodic_axes)

    def forward(self, x: Tensor, features: bool = False):
        feats = []
        for layer in self.patchgan.net:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                feats.append(x)
        return (x, feats) if features else x


@register_model("inpaint", config=InpaintConfig, family="conditional",
                help="inpainting of images and fields: partial-convolution U-Net, valid/hole L1 + TV "
                     "(Liu et al. 2018); masks from data.derive=mask:strokes|boxes|mixed",
                tiny={"depth": 2, "base": 4, "max_channels": 8},
                test_data="digits", test_data_options={"derive": "mask:mixed"})
class Inpaint(GenerativeModel):
    conditional = True
    provides = frozenset({"generate", "infill"})
    train_defaults = {"lr": 2e-4, "betas": (0.9, 0.999), "batch_size": 8, "steps": 20000}

    @classmethod
    def defaults_for(cls, config: InpaintConfig) -> dict[str, dict]:
        return {"train": dict(cls.train_defaults), "data": data_defaults(config)}

    @classmethod
    def required_fields(cls, config: InpaintConfig) -> dict[str, tuple[str, ...]]:
        extra = {config.context_field: ("image", "field")} if config.context_field else {}
        return {config.target: ("image", "field"), config.mask: ("mask",), **extra}

    @classmethod
    def paired_fields(cls, config: InpaintConfig) -> tuple[str, ...]:
        return (config.target, config.mask) + ((config.context_field,) if config.context_field else ())

    @classmethod
    def check_data(cls, config: InpaintConfig, info: DataInfo, *, model_name: str = "") -> None:
        if config.mask == "mask" and "mask" not in info.fields:
            raise GenlabError(f"model {model_name or 'inpaint'} reads the field 'mask', which the data lack; add "
                              "mask:mixed (or mask:strokes, mask:boxes) to data.derive, e.g. "
                              "--data.derive=crop:64,mask:mixed")
        super().check_data(config, info, model_name=model_name)

    def __init__(self, config: InpaintConfig, data: DataInfo):
        super().__init__(config, DataInfo.of(data.fields, primary=config.target))
        t, m = data.fields[config.target], data.fields[config.mask]
        if len(t.shape) != 3 or len(m.shape) != 3 or m.shape[1:] != t.shape[1:] or m.shape[0] not in (1, t.shape[0]):
            raise GenlabError(f"inpaint needs a (C, H, W) target and a (1 or C, H, W) mask of its size; "
                              f"{config.target} is {t.shape}, {config.mask} is {m.shape}")
        self.bounded, self.channels, self.valid_field = t.bounded, t.shape[0], t.valid
        self.ctx_field, self.ctx_channels, self.ctx_valid = config.context_field, 0, None
        if self.ctx_field:
            c = data.fields[self.ctx_field]
            if len(c.shape) != 3 or c.shape[1:] != t.shape[1:]:
                raise GenlabError(f"model.context_field={self.ctx_field} is {c.shape}; it must be (C, H, W) on the "
                                  f"target's grid {t.shape[1:]}")
            self.ctx_channels, self.ctx_valid = c.shape[0], c.valid
            if config.residual == "context_mean" and c.shape[0] % t.shape[0]:
                raise GenlabError(f"model.residual={config.residual} averages the context per target channel, so "
                                  f"its {c.shape[0]} channels must be a multiple of the target's {t.shape[0]}")
        self.residual = config.residual
        periodic = tuple(ax + 1 for ax in t.periodic if ax in (1, 2)) or None  # (C, H, W) axes -> (B, C, H, W)
        self.periodic_w = 3 in (periodic or ())
        self.mask_channels = m.shape[0]
        self.base_channels = t.shape[0] + m.shape[0] if config.residual in FILL_BASES else 0  # base, then its mask
        self.network = PartialConvUNet(t.shape[0] + self.ctx_channels + self.base_channels, t.shape[0],
                                       depth=config.depth, base=config.base, max_channels=config.max_channels,
                                       norm=config.norm,
                                       padding_mode=config.padding, periodic_axes=periodic)
        self.multiple, self.context = self.network.multiple, self.network.context
        self.adversarial = config.adversarial_weight > 0
        if self.adversarial:
            self.discriminator = FeaturePatchGAN(t.shape[0], base=config.d_base, n_layers=config.d_layers,
                                                 periodic_axes=periodic)
            self.adv = LOSSES[config.gan_loss]

    # --- initialisation from another inpaint run (model.init_from) ----------------------------
    def warm_start_source(self) -> Optional[str]:
        return self.config.init_from or None

    def warm_start(self, run) -> None:
        """U (and D, when both runs have one) := the networks of `run`, an inpaint run of the same shape;
        the losses, their weights and the optimiser state are this run's own (runs.warm_start)."""
        src, cfg, other = self.config.init_from, self.config, run.config.model
        if run.config.model_name != "inpaint":
            raise GenlabError(f"model.init_from={src} is a {run.config.model_name!r} run; inpaint starts from an "
                              "inpaint run")
        keys = ("depth", "base", "max_channels", "norm", "padding", "context_field", "residual")
        diff = [f"{k} {getattr(other, k)!r} vs {getattr(cfg, k)!r}" for k in keys if getattr(other, k) != getattr(cfg, k)]
        theirs, mine = run.model.network.state_dict(), self.network.state_dict()
        if not diff and (theirs.keys() != mine.keys() or any(theirs[k].shape != v.shape for k, v in mine.items())):
            diff = ["channels of the fields"]
        if diff:
            raise GenlabError(f"model.init_from={src} is an inpaint run of another shape ({', '.join(diff)} here); "
                              "give a run with the same depth, base, max_channels, norm, padding, context")
        self.network.load_state_dict(theirs)
        if self.adversarial and getattr(run.model, "adversarial", False) and other.d_base == cfg.d_base \
                and other.d_layers == cfg.d_layers:
            self.discriminator.load_state_dict(run.model.discriminator.state_dict())

    # --- spaces -------------------------------------------------------------------------------
    def to_g(self, x: Tensor) -> Tensor:
        """Model space -> the network's space (2x − 1 for bounded images)."""
        return x * 2.0 - 1.0 if self.bounded else x

    def from_g(self, y: Tensor) -> Tensor:
        """The network's output -> model space ((y + 1)/2 for bounded images, not clamped)."""
        return (y.float() + 1.0) / 2.0 if self.bounded else y.float()

    def raw(self, x: Tensor, mask: Tensor, context: Optional[Tensor] = None,
            context_mask: Optional[Tensor] = None) -> Tensor:
        """U's output in model space (unclamped, with gradients) for inputs of any H, W (module docstring)."""
        if x.dim() != 4 or mask.dim() != 4 or mask.shape[-2:] != x.shape[-2:] or mask.shape[0] != x.shape[0] \
                or mask.shape[1] not in (1, x.shape[1]) or x.shape[1] != self.channels:
            raise GenlabError(f"infill needs x (N, {self.channels}, H, W) and a mask (N, 1 or {self.channels}, H, W) "
                              f"of the same N, H, W; got x {tuple(x.shape)} and mask {tuple(mask.shape)}")
        m = mask.to(x.dtype)
        x = torch.where(m > 0, x, torch.zeros((), dtype=x.dtype, device=x.device))  # holes: never read (NaN-safe)
        h, w = x.shape[-2:]
        ph, pw = -h % self.multiple, -w % self.multiple
        xg = self.to_g(x) * m
        if self.ctx_channels or context is not None:
            xg, m = self._with_context(xg, m, context, context_mask)
        base = self.fill_base(x, mask.to(x.dtype)) if self.base_channels else None
        if base is not None:  # the base and the hole mask enter as known channels
            n = x.shape[0]
            hole_map = mask.to(x.dtype)
            if hole_map.shape[1] != self.mask_channels:  # a 1-channel mask for a per-channel run, or the reverse
                hole_map = hole_map.expand(n, self.mask_channels, h, w) if hole_map.shape[1] == 1 \
                    else hole_map.amin(1, keepdim=True)
            m_in = m if m.shape[1] > 1 else m.expand(n, self.channels, h, w)
            xg = torch.cat([xg, self.to_g(base).to(xg.dtype), hole_map], 1)
            m = torch.cat([m_in, torch.ones((n, self.base_channels, h, w), dtype=m.dtype, device=m.device)], 1)
        if ph or pw:  # padding is unknown: holes for the partial convolutions
            xg, m = F.pad(xg, (0, pw, 0, ph)), F.pad(m, (0, pw, 0, ph))
        out = self.from_g(self.network(xg, m))[..., :h, :w]
        if self.residual == "context_mean":
            base = self.context_mean(context, context_mask, x, mask.to(x.dtype))
        if base is not None:  # I_out = b + U(·) − U_0
            out = out - self.from_g(torch.zeros((), device=x.device)) + base.float()
        return out

    def fill_base(self, x: Tensor, mask: Tensor) -> Tensor:
        """The base of model.residual=harmonic|biharmonic in model space, from the target's known cells alone:
        the harmonic interpolant (nn/fill.py, multigrid SOR; longitude wraps on periodic fields) or skimage's
        biharmonic one (NumPy, on the CPU). No gradients: it is a fixed first guess that U corrects."""
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            if self.residual == "harmonic":
                return harmonic_fill(x.float(), mask.float(), periodic_w=self.periodic_w)
            return biharmonic_fill(x.float(), mask.float()).to(x.device)

    def context_mean(self, context: Tensor, context_mask: Tensor, x: Tensor, mask: Tensor) -> Tensor:
        """b = Σ_k M_c,k X_c,k / Σ_k M_c,k per target channel (context channels grouped step-major: step k's C
        channels together), in model space. Where no context value is valid, b = the local mean of the
        target's own known values around the cell (nn/fill.py, the smallest window holding one; longitude
        wraps on periodic fields), and from_g(0) (a standardised field's mean, mid-grey) where there is none."""
        n, _, h, w = context.shape
        mc = context_mask.float().reshape(n, -1, self.channels, h, w)
        c = torch.where(mc > 0, context.float().reshape(mc.shape), torch.zeros((), device=context.device))
        count = mc.sum(1)
        local, found = local_mean_fill(x, mask, periodic_w=self.periodic_w)
        fallback = torch.where(found, local, self.from_g(torch.zeros((), device=context.device)))
        return torch.where(count > 0, c.sum(1) / count.clamp_min(1.0), fallback)

    def _with_context(self, xg: Tensor, m: Tensor, context: Optional[Tensor], context_mask: Optional[Tensor]):
        """[x_g ⊙ M, X_c ⊙ M_c] and [M (per channel), M_c]: the network's input with the context channels."""
        n, _, h, w = xg.shape
        want = (n, self.ctx_channels, h, w)
        if not self.ctx_channels:
            raise GenlabError("this run was trained without context channels (model.context_field); infill it "
                              "without context")
        if context is None or context_mask is None or tuple(context.shape) != want \
                or tuple(context_mask.shape) != want:
            got = None if context is None else tuple(context.shape)
            raise GenlabError(f"this run reads {self.ctx_channels} context channel(s) ({self.ctx_field}) with a mask "
                              f"of the same shape {want}; got context {got}")
        mc = context_mask.to(xg.dtype)
        c = torch.where(mc > 0, context.to(xg.dtype), torch.zeros((), dtype=xg.dtype, device=xg.device))
        return torch.cat([xg, self.to_g(c) * mc], 1), torch.cat([m.expand(n, self.channels, h, w), mc], 1)

    def context_of(self, batch: Batch) -> tuple[Optional[Tensor], Optional[Tensor]]:
        """(context, its validity mask) of a batch, or (None, None) for a run without context channels."""
        if not self.ctx_channels:
            return None, None
        c = batch[self.ctx_field].float()
        mc = batch[self.ctx_valid].float() if self.ctx_valid and self.ctx_valid in batch.fields else torch.ones_like(c)
        return c, mc

    @torch.no_grad()
    def infill(self, x: Tensor, mask: Tensor, context: Optional[Tensor] = None,
               context_mask: Optional[Tensor] = None) -> Tensor:
        """The raw network output (N, C, H, W) in model space for x and mask (module docstring)."""
        out = self.raw(x, mask, context, context_mask)
        return out.clamp(0.0, 1.0) if self.bounded else out

    def known(self, batch: Batch) -> Tensor:
        """The network's mask: the batch's mask times the target's validity mask where it has gaps."""
        m = batch[self.config.mask].float()
        if self.valid_field and self.valid_field in batch.fields:
            m = m * batch[self.valid_field].float()
        return m

    # --- training -----------------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        nets = {"network": self.network}
        if self.adversarial:
            nets["discriminator"] = self.discriminator
        return nets

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        groups = {"generator": list(self.network.parameters())}
        if self.adversarial:
            groups["discriminator"] = list(self.discriminator.parameters())
        return groups

    def phases(self, step: int) -> list[Phase]:
        g = Phase("generator", self.g_loss)
        return [Phase("discriminator", self.d_loss), g] if self.adversarial else [g]

    def _outputs(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor, Optional[Tensor]]:
        """(I_out, I_comp, I_gt, M, truth weight or None) in model space."""
        gt = batch[self.config.target].float()
        m = self.known(batch)
        weight = batch[self.valid_field].float() if self.valid_field and self.valid_field in batch.fields else None
        out = self.raw(gt, m, *self.context_of(batch))
        comp = out * (1.0 - m) + gt * m
        return out, comp, gt, m, weight

    def g_loss(self, batch: Batch) -> dict:
        """L = w_valid L_valid + w_hole L_hole + w_tv L_tv [+ w_perc L_perc + w_style (L_style_out +
        L_style_comp) + w_adv L_G^adv] (module docstring)."""
        cfg = self.config
        out, comp, gt, m, weight = self._outputs(batch)
        valid, hole = L.valid_hole_l1(out, gt, m, weight, squared=cfg.error == "l2")
        tv = L.total_variation(comp, m)
        loss = cfg.valid_weight * valid + cfg.hole_weight * hole + cfg.tv_weight * tv
        logs = {"l_valid": valid.detach(), "l_hole": hole.detach(), "l_tv": tv.detach()}
        if self.adversarial:
            logit, f_comp = self.discriminator(self.to_g(comp), features=True)
            adv = self.adv.g(logit.float().flatten(1).mean(1))
            loss = loss + cfg.adversarial_weight * adv
            logs["g_adv"] = adv.detach()
            if cfg.perceptual_weight or cfg.style_weight:
                _, f_out = self.discriminator(self.to_g(out), features=True)
                with torch.no_grad():
                    _, f_gt = self.discriminator(self.to_g(gt), features=True)
                perc = L.perceptual(f_out, f_comp, f_gt)
                sty = L.style(f_out, f_gt) + L.style(f_comp, f_gt)
                loss = loss + cfg.perceptual_weight * perc + cfg.style_weight * sty
                logs.update(l_perc=perc.detach(), l_style=sty.detach())
        return {"loss": loss, **logs}

    def d_loss(self, batch: Batch) -> dict:
        """L_D of the registered pair on PatchGAN logits (each image's patches averaged): ground truth real,
        composites (network output without gradient) fake."""
        with torch.no_grad():
            _, comp, gt, _, _ = self._outputs(batch)
        real = self.discriminator(self.to_g(gt)).float().flatten(1).mean(1)  # (B,)
        fake = self.discriminator(self.to_g(comp)).float().flatten(1).mean(1)
        loss = self.adv.d(real, fake)
        return {"loss": loss, "d_real": real.mean().detach(), "d_fake": fake.mean().detach()}

    # --- outputs ------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, batch: Batch, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """The composite out · (1 − M) + x · M for the batch's target and mask (deterministic)."""
        gt, m = batch[self.config.target].float(), self.known(batch)
        return self.infill(gt, m, *self.context_of(batch)) * (1.0 - m) + gt * m

    def preview(self, batch: Optional[Batch], *, n: int, generator: Optional[torch.Generator] = None) -> list[Panel]:
        """input (holes white for images, the mean for fields) | raw output | composite | target."""
        if batch is None:
            raise GenlabError("inpaint previews need input examples")
        t = self.config.target
        gt, m = batch[t].float(), self.known(batch)
        shown = gt * m + (1.0 - m) * (1.0 if self.bounded else 0.0)
        return [Panel("input", shown, t), Panel("output", self.infill(gt, m, *self.context_of(batch)), t),
                Panel("composite", self.generate(batch), t), Panel(t, gt, t)]
