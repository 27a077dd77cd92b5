"""`cyclegan`: unpaired image-to-image translation with cycle consistency (Zhu et al. 2017):

    L(G_ab, G_ba, D_a, D_b) = L_GAN(G_ab, D_b) + L_GAN(G_ba, D_a)
                              + λ (E_a ‖G_ba(G_ab(a)) − a‖₁ + E_b ‖G_ab(G_ba(b)) − b‖₁)
                              + μ λ (E_a ‖G_ba(a) − a‖₁ + E_b ‖G_ab(b) − b‖₁),

with `a` = field `model.a`, `b` = field `model.b` (two domains, usually the unaligned streams of
`--data folder-unpaired`; any two (C, H, W) fields of one H × W work), λ = `cycle_weight` (10) and
μ = `identity_weight` (0.5, the paper's "0.5 λ"; it needs C_a = C_b).

Networks (as in the paper): G_ab, G_ba = ResnetGenerator (`base`, `n_down`, `n_blocks`, instance norm,
reflection padding), tanh on [−1, 1] for bounded (image) outputs, linear for physical fields; D_a, D_b =
unconditional PatchGANs (`d_base`, `d_layers`: 3 = 70 × 70 patches, instance norm) that judge G space
(2x − 1 for bounded fields, the field itself otherwise). L1 terms are measured in G space, the paper's
scale. Conv weights keep PyTorch's default initialisation (the paper draws N(0, 0.02)).

Groups and phases (DESIGN §2): both G in group "generator", both D in group "discriminator";
`[Phase("generator"), Phase("discriminator")]`, G first as in the reference code. The adversarial pair
is any registered loss with plain d(real, fake) / g(fake) functions (`lsgan`, the paper's, by default;
`nonsaturating`, `minimax`, `hinge`); losses with a penalty, weight clipping, an autoencoder D (began)
or a G loss that needs D(real) are refused. D's objective is halved (the paper, §4).

Which fakes D sees: the G phase keeps its detached fakes G_ab(a), G_ba(b) on the model, keyed by the
batch's tensors; the D phase of the same step uses them, so D is trained on the fakes of G's weights
*before* G's update of this step, as in the reference implementation (one forward per G per step). The
cache is emptied by `phases(step)`, which the trainer calls once per step; a D phase that finds no
cached fakes (e.g. called on its own) regenerates them under no_grad with G's current weights.

History pool (Shrivastava et al. 2017, §4 of the paper): per D, the last `pool_size` (50) fakes. While it
fills, new fakes are stored and shown to D; once full, each new fake is, with probability ½, swapped for a
uniformly chosen stored one (D sees the stored one, the pool keeps the new one), else shown as it is.
Draws come from `batch.generator`. The pools are buffers (`pool_a`, `pool_b`: (pool_size, C, H, W) in G
space, `pool_a_count`, `pool_b_count`), so checkpoints keep them and resume is bit-exact.

Training defaults: Adam lr 2e-4, betas (0.5, 0.999) as in the paper; batch 4 (the paper's is 1) and the
paper's schedule: lr constant for the first half of training, then linearly to 0 (`train.lr_schedule=linear`,
`train.decay_start=0.5`; the paper: 100 + 100 epochs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from ...errors import GenlabError
from ...nn import PatchDiscriminator, ResnetGenerator
from ...registry import LOSSES, register_model
from .grid import shared_grid
from ..base import Batch, DataInfo, GenerativeModel, Panel, Phase, rand

DIRECTIONS = ("AtoB", "BtoA")


@dataclass
class CycleGANConfig:
    a: str = "a"  # field of domain A
    b: str = "b"  # field of domain B
    base: int = 64  # ResnetGenerator width at full resolution
    n_blocks: int = 9  # residual blocks (the paper: 6 at 128 px, 9 at 256 px)
    n_down: int = 2  # stride-2 downsamplings (H, W divisible by 2**n_down)
    d_base: int = 64  # PatchGAN width of its first layer
    d_layers: int = 3  # PatchGAN layers: 3 = 70x70 patches, 1 = 16x16
    loss: str = "lsgan"  # adversarial loss (LOSSES registry): lsgan | nonsaturating | minimax | hinge
    cycle_weight: float = 10.0  # λ, both cycles
    identity_weight: float = 0.5  # μ: identity terms weighted μ λ (0 = off)
    pool_size: int = 50  # fakes kept per D (0 = no history pool)

    def __post_init__(self):
        checks = [
            (self.base >= 1, "base", ">= 1"), (self.n_blocks >= 0, "n_blocks", ">= 0"),
            (self.n_down >= 0, "n_down", ">= 0"), (self.d_base >= 1, "d_base", ">= 1"),
            (self.d_layers >= 0, "d_layers", ">= 0"), (self.cycle_weight >= 0, "cycle_weight", ">= 0"),
            (self.identity_weight >= 0, "identity_weight", ">= 0"), (self.pool_size >= 0, "pool_size", ">= 0"),
        ]
        for ok, key, want in checks:
            if not ok:
                raise ValueError(f"model.{key}={getattr(self, key)!r} is invalid; expected {want}")
        if self.loss not in LOSSES:
            raise ValueError(f"model.loss={self.loss!r} is not a registered loss; choose one of "
                             f"{', '.join(sorted(LOSSES))}")
        adv = LOSSES[self.loss]
        if adv.energy or adv.balance or adv.penalty is not None or adv.clip or adv.g_needs_real:
            raise ValueError(f"model.loss={self.loss!r} is not supported by cyclegan (needs a penalty, clipping, "
                             "an autoencoder D or D(real) in G's loss); use lsgan, nonsaturating, minimax or hinge")
        if self.a == self.b:
            raise ValueError(f"model.a and model.b are both {self.a!r}; name two fields")


class HistoryPool(nn.Module):
    """The last `size` fakes shown to one D, as buffers: `images` (size, C, H, W) and `count` (filled slots)."""

    def __init__(self, size: int, shape: tuple[int, ...]):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, fakes: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        """What D sees for new fakes (B, C, H, W) (detached): each fake in turn is stored while the pool
        fills; once full, with probability ½ a uniformly chosen stored fake is returned and replaced by the
        new one, else the new one is returned. Two draws per fake (u, slot), whatever the branch."""
        fakes = fakes.detach().float()
        if self.size == 0:
            return fakes
        n = fakes.shape[0]
        dev = generator.device if generator is not None else self.images.device
        u = rand((n,), generator=generator, device=dev).to(self.images.device)
        slots = torch.randint(0, self.size, (n,), generator=generator, device=dev).to(self.images.device)
        out = []
        for i in range(n):
            filling = self.count < self.size  # 0-d bool, no host sync
            swap = (~filling) & (u[i] > 0.5)
            slot = torch.where(filling, self.count, slots[i]).view(1)  # (1,)
            stored = self.images.index_select(0, slot)[0]  # (C, H, W)
            new = fakes[i].to(self.images.dtype)
            out.append(torch.where(swap, stored, new))
            self.images.index_copy_(0, slot, torch.where(filling | swap, new, stored).unsqueeze(0))
            self.count.add_(filling.long())
        return torch.stack(out).to(fakes.dtype)  # (B, C, H, W)


@register_model("cyclegan", config=CycleGANConfig, family="conditional",
                help="unpaired translation a <-> b: two ResNet G, two PatchGAN D, LSGAN + 10 cycle L1 + identity, "
                     "history pool of fakes (Zhu et al. 2017)",
                tiny={"a": "x", "b": "noisy", "n_blocks": 1, "base": 4, "d_base": 4, "d_layers": 1, "pool_size": 4},
                test_data="digits", test_data_options={"derive": "noise:gaussian:0.3"})
class CycleGAN(GenerativeModel):
    conditional = True
    directions = DIRECTIONS
    provides = frozenset({"generate", "translate"})
    ema_default = ("g_ab", "g_ba")
    train_defaults = {"lr": 2e-4, "betas": (0.5, 0.999), "batch_size": 4, "lr_schedule": "linear", "decay_start": 0.5,
                      "steps": 5000}

    @classmethod
    def required_fields(cls, config: CycleGANConfig) -> dict[str, tuple[str, ...]]:
        return {config.a: ("image", "field"), config.b: ("image", "field")}

    def __init__(self, config: CycleGANConfig, data: DataInfo):
        super().__init__(config, data)
        sa, sb = data.fields[config.a], data.fields[config.b]
        h, w = shared_grid("cyclegan", data, config.a, config.b, halvings=config.n_down, key="n_down")
        self.size_multiple = 2 ** config.n_down
        ca, cb = sa.shape[0], sb.shape[0]
        if config.identity_weight > 0 and ca != cb:
            raise GenlabError(f"model.identity_weight={config.identity_weight} needs equal channel counts, but "
                              f"{config.a} has {ca} and {config.b} has {cb}; set model.identity_weight=0")
        self.bounded = {"a": sa.bounded, "b": sb.bounded}
        self.adv = LOSSES[config.loss]

        def gen(c_in, c_out, bounded, periodic):
            return ResnetGenerator(c_in, c_out, base=config.base, n_down=config.n_down, n_blocks=config.n_blocks,
                                   norm="instance", periodic_axes=periodic,
                                   out_activation="tanh" if bounded else "none")

        def disc(c, periodic):
            return PatchDiscriminator(c, base=config.d_base, n_layers=config.d_layers, norm="instance",
                                      periodic_axes=periodic)

        pa = tuple(ax + 1 for ax in sa.periodic if ax in (1, 2)) or None  # (C, H, W) axes -> (B, C, H, W) dims
        pb = tuple(ax + 1 for ax in sb.periodic if ax in (1, 2)) or None
        self.g_ab, self.g_ba = gen(ca, cb, sb.bounded, pb), gen(cb, ca, sa.bounded, pa)
        self.d_a, self.d_b = disc(ca, pa), disc(cb, pb)
        gh, gw = self.d_a.logit_grid(h, w)
        if gh < 1 or gw < 1:
            raise GenlabError(f"model.d_layers={config.d_layers} is too deep for {h}x{w} fields; lower it")
        self.pool_a = HistoryPool(config.pool_size, tuple(sa.shape))  # fakes of domain A, judged by D_a
        self.pool_b = HistoryPool(config.pool_size, tuple(sb.shape))
        self._fakes: list[tuple[tuple, Tensor, Tensor]] = []  # this step's detached (key, G_ab(a), G_ba(b))

    # --- the contract -------------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {"g_ab": self.g_ab, "g_ba": self.g_ba, "d_a": self.d_a, "d_b": self.d_b}

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"generator": [*self.g_ab.parameters(), *self.g_ba.parameters()],
                "discriminator": [*self.d_a.parameters(), *self.d_b.parameters()]}

    def phases(self, step: int) -> list[Phase]:
        self._fakes = []  # a new step: fakes of the previous one are stale
        return [Phase("generator", self.g_loss), Phase("discriminator", self.d_loss)]

    # --- spaces -------------------------------------------------------------------------------
    def to_g(self, x: Tensor, domain: str) -> Tensor:
        """Model space -> G space of `domain` ("a" | "b"): 2x − 1 for bounded fields, x otherwise."""
        return x * 2.0 - 1.0 if self.bounded[domain] else x

    def from_g(self, y: Tensor, domain: str) -> Tensor:
        """G space -> model space of `domain`: (y + 1) / 2 clamped to [0, 1] for bounded fields."""
        return ((y.float() + 1.0) / 2.0).clamp(0.0, 1.0) if self.bounded[domain] else y.float()

    def _key(self, batch: Batch) -> tuple:
        a, b = batch[self.config.a], batch[self.config.b]
        return (a.data_ptr(), tuple(a.shape), b.data_ptr(), tuple(b.shape))

    # --- the losses ---------------------------------------------------------------------------
    def g_loss(self, batch: Batch) -> dict:
        """L_G = g(D_b(G_ab(a))) + g(D_a(G_ba(b))) + λ (cycle_a + cycle_b) + μ λ (idt_a + idt_b), with
        cycle_a = mean |G_ba(G_ab(a)) − a|, cycle_b = mean |G_ab(G_ba(b)) − b|, idt_a = mean |G_ba(a) − a|,
        idt_b = mean |G_ab(b) − b|, all in G space. Logs each unweighted term."""
        cfg = self.config
        ra, rb = self.to_g(batch[cfg.a], "a"), self.to_g(batch[cfg.b], "b")
        fake_b, fake_a = self.g_ab(ra), self.g_ba(rb)
        self._fakes.append((self._key(batch), fake_b.detach(), fake_a.detach()))
        adv_ab, adv_ba = self.adv.g(self.d_b(fake_b)), self.adv.g(self.d_a(fake_a))
        cyc_a = (self.g_ba(fake_b).float() - ra.float()).abs().mean()
        cyc_b = (self.g_ab(fake_a).float() - rb.float()).abs().mean()
        loss = adv_ab + adv_ba + cfg.cycle_weight * (cyc_a + cyc_b)
        out = {"g_ab": adv_ab, "g_ba": adv_ba, "cycle_a": cyc_a, "cycle_b": cyc_b}
        if cfg.identity_weight > 0:
            idt_a = (self.g_ba(ra).float() - ra.float()).abs().mean()
            idt_b = (self.g_ab(rb).float() - rb.float()).abs().mean()
            loss = loss + cfg.identity_weight * cfg.cycle_weight * (idt_a + idt_b)
            out.update(idt_a=idt_a, idt_b=idt_b)
        return {"loss": loss, **{k: v.detach() for k, v in out.items()}}

    def _fakes_for(self, batch: Batch, ra: Tensor, rb: Tensor) -> tuple[Tensor, Tensor]:
        """(G_ab(a), G_ba(b)) of this step's G phase on this batch, else regenerated with G's current weights."""
        key = self._key(batch)
        for i, (k, fb, fa) in enumerate(self._fakes):
            if k == key:
                del self._fakes[i]
                return fb, fa
        with torch.no_grad():
            return self.g_ab(ra).detach(), self.g_ba(rb).detach()

    def d_loss(self, batch: Batch) -> dict:
        """L_D = ½ d(D_b(b), D_b(pool_b(G_ab(a)))) + ½ d(D_a(a), D_a(pool_a(G_ba(b)))) (the paper halves D)."""
        cfg = self.config
        ra, rb = self.to_g(batch[cfg.a], "a"), self.to_g(batch[cfg.b], "b")
        fake_b, fake_a = self._fakes_for(batch, ra, rb)
        fake_b = self.pool_b.query(fake_b, batch.generator).to(ra.dtype)
        fake_a = self.pool_a.query(fake_a, batch.generator).to(ra.dtype)
        d_b = self.adv.d(self.d_b(rb), self.d_b(fake_b))
        d_a = self.adv.d(self.d_a(ra), self.d_a(fake_a))
        return {"loss": 0.5 * (d_a + d_b), "d_a": d_a.detach(), "d_b": d_b.detach()}

    # --- outputs ------------------------------------------------------------------------------
    @torch.no_grad()
    def translate(self, x: Tensor, direction: str = "AtoB", *, generator: Optional[torch.Generator] = None) -> Tensor:
        """x (B, C_src, H, W) in model space of the source domain -> (B, C_dst, H, W) in model space of
        the other: direction "AtoB" = G_ab, "BtoA" = G_ba (deterministic; any H, W divisible by
        2**n_down)."""
        if direction not in DIRECTIONS:
            raise GenlabError(f"direction={direction!r} is invalid; expected AtoB or BtoA")
        src, dst, net = ("a", "b", self.g_ab) if direction == "AtoB" else ("b", "a", self.g_ba)
        return self.from_g(net(self.to_g(x, src)), dst)

    @torch.no_grad()
    def generate(self, batch: Batch, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """b̂ = G_ab(a) in model space of field b, (B, C_b, H, W) (deterministic: G has no noise)."""
        return self.translate(batch[self.config.a], "AtoB")

    def preview(self, batch: Optional[Batch], *, n: int, generator: Optional[torch.Generator] = None) -> list[Panel]:
        """a | G_ab(a) | G_ba(G_ab(a)) | b | G_ba(b) for the first examples of each domain."""
        if batch is None:
            raise GenlabError("cyclegan previews need input examples of both domains")
        cfg = self.config
        a, b = batch[cfg.a][:n], batch[cfg.b][:n]
        ab = self.translate(a, "AtoB")
        return [Panel(cfg.a, a, cfg.a), Panel("A to B", ab, cfg.b), Panel("A to B to A", self.translate(ab, "BtoA"), cfg.a),
                Panel(cfg.b, b, cfg.b), Panel("B to A", self.translate(b, "BtoA"), cfg.a)]
