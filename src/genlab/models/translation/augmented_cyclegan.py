"""`augmented-cyclegan`: many-to-many unpaired translation (Almahairi et al. 2018, "Augmented CycleGAN:
Learning Many-to-Many Mappings from Unpaired Data").

CycleGAN's maps are deterministic and one-to-one. Augmented CycleGAN translates between augmented spaces
A × Z_b and B × Z_a, with latent codes z_a ∈ R^{za_dim}, z_b ∈ R^{zb_dim} and priors p(z) = N(0, I):

    G_AB(a, z_b) -> b̃      G_BA(b, z_a) -> ã       (stochastic maps: one input, many outputs)
    E_A(a, b)    -> z_a     E_B(a, b)    -> z_b     ("augmented" encoders that see both images)

with `a` = field `model.a`, `b` = field `model.b` (two domains, e.g. the unaligned streams of
`--data folder-unpaired`; any two (C, H, W) fields of one H × W). Per step, with z_b, z_a ~ N(0, I):

    cycle from (a, z_b):  b̃ = G_AB(a, z_b),  z̃_a = E_A(a, b̃),  a' = G_BA(b̃, z̃_a),  z'_b = E_B(a, b̃)
    cycle from (b, z_a):  ã = G_BA(b, z_a),  z̃_b = E_B(ã, b),  b' = G_AB(ã, z̃_b),  z'_a = E_A(ã, b)

    L_G = g(D_B(b̃)) + g(D_A(ã)) + μ [g(D_Za(z̃_a)) + g(D_Zb(z̃_b))]                  (marginal matching)
          + λ_A E‖a' − a‖₁ + λ_B E‖b' − b‖₁ + λ_zA E‖z'_a − z_a‖₁ + λ_zB E‖z'_b − z_b‖₁   (augmented cycles)
    L_D = ½ [d(D_A(a), D_A(ã)) + d(D_B(b), D_B(b̃)) + d(D_Za(z_a), D_Za(z̃_a)) + d(D_Zb(z_b), D_Zb(z̃_b))]

(d, g: the adversarial pair, LSGAN by default: d = E(D(real) − 1)² + E D(fake)², g = E(D(fake) − 1)²;
E‖·‖₁ = mean absolute error over all elements, as F.l1_loss; μ = `latent_adv_weight`). The latent
adversaries D_Za, D_Zb match the *marginal* of the encoded codes of real images to the prior, so codes
inferred from real pairs can be swapped for prior samples. The encoders are deterministic (the
reference's default: no `stoch_enc`), and are trained with the generators.

Defaults follow the authors' reference code (edges2shoes): z dims 16 (`nlatent`), λ_A = λ_B = 1,
λ_z = 0.025, μ = 1, LSGAN, generator width 32 with 3 residual blocks, encoder width 32, PatchGAN D
width 64, latent D an MLP (3 × 64 hidden units, LeakyReLU 0.2; the reference's batch norm is left out so
D judges each code on its own), Adam lr 2e-4, betas (0.5, 0.999), D at lr / 5 (`train.group_lr`), batch
32, gradient norm clipped at 500, no history pool. `za_dim=0` (or `zb_dim=0`) makes that direction
deterministic and drops its encoder and latent D: `za_dim=0` is exactly the reference's edges2shoes model
(only z_b, G_BA(b) deterministic).

Networks: G = `LatentResnetGenerator` (the CycleGAN ResNet layout: `base`, `n_down`, `n_blocks`; z is
injected by conditional instance norm — every norm of G is γ(z) ⊙ IN(h) + β(z), the paper's
CondInstanceNorm), tanh on [−1, 1] for bounded (image) fields, linear for physical fields. A deterministic
direction uses the plain `ResnetGenerator`. E = `LatentEncoder` on the channel concatenation (a, b)
(`e_base`, `e_layers`). D_A, D_B = PatchGANs (`d_base`, `d_layers`); D_Za, D_Zb = MLPs (`dz_hidden`).
All in G space: 2x − 1 for bounded fields, the field itself otherwise; the L1 image terms are there too.

Groups and phases (DESIGN §2): G_AB, G_BA, E_A, E_B in group "generator", the four D in group
"discriminator"; `[Phase("generator"), Phase("discriminator")]`, as `cyclegan`. The G phase keeps its
detached fakes (b̃, ã), codes (z̃_a, z̃_b) and prior draws (z_a, z_b) keyed by the batch's tensors; the D
phase of the same step judges those (no second forward; the prior draws are D_z's real samples). A D
phase that finds none regenerates them under no_grad with fresh prior draws. The reference trains D first
and then G against the updated D; genlab's order is cyclegan's (G, then D on G's pre-update fakes).

Randomness: every draw comes from `batch.generator` — in the G phase z_b (n_a, zb_dim) then z_a
(n_b, za_dim); in the D phase the optional history pools (`pool_size` > 0: `cyclegan.HistoryPool`, image
fakes only, buffers `pool_a.*`, `pool_b.*`), so resume is bit-exact.

Outputs: `translate(x, direction, z=None, generator=None)` (z from the prior when None),
`translate_many(x, k, direction, generator=None)` -> (B, K, C, H, W), `infer_latents(a, b)` -> (z_a, z_b),
`generate(batch)` = one sample of G_AB(a, z_b), and a preview a | K samples of A→B | b | K samples of B→A.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Optional

import torch
from torch import Tensor, nn

from ...errors import GenlabError
from ...nn import MLP, LatentEncoder, LatentResnetGenerator, PatchDiscriminator, ResnetGenerator
from ...registry import LOSSES, register_model
from ..base import Batch, DataInfo, GenerativeModel, Panel, Phase, randn
from .cyclegan import DIRECTIONS, HistoryPool
from .grid import shared_grid

PREVIEW_SAMPLES = 3  # samples per input in the preview picture


@dataclass
class AugmentedCycleGANConfig:
    a: str = "a"  # field of domain A
    b: str = "b"  # field of domain B
    za_dim: int = 16  # z_a: the variation G_BA adds to a translated b (0 = deterministic G_BA, no E_A/D_Za)
    zb_dim: int = 16  # z_b: the variation G_AB adds to a translated a (0 = deterministic G_AB, no E_B/D_Zb)
    base: int = 32  # generator width at full resolution
    n_blocks: int = 3  # residual blocks at the lowest resolution
    n_down: int = 2  # stride-2 downsamplings of G (H, W divisible by 2**n_down)
    e_base: int = 32  # encoder width of its first conv
    e_layers: int = 4  # encoder stride-2 convs
    d_base: int = 64  # PatchGAN width of its first layer
    d_layers: int = 3  # PatchGAN layers: 3 = 70x70 patches, 1 = 16x16
    dz_hidden: int = 64  # latent D: hidden units of its 3 hidden layers
    loss: str = "lsgan"  # adversarial loss (LOSSES registry): lsgan | nonsaturating | minimax | hinge
    lambda_a: float = 1.0  # λ_A: image cycle a -> b̃ -> a'
    lambda_b: float = 1.0  # λ_B: image cycle b -> ã -> b'
    lambda_za: float = 0.025  # λ_zA: code cycle z_a -> z'_a
    lambda_zb: float = 0.025  # λ_zB: code cycle z_b -> z'_b
    latent_adv_weight: float = 1.0  # μ: weight of the latent adversaries in L_G (0 = no D_Za/D_Zb)
    pool_size: int = 0  # image fakes kept per D (0 = none, as the reference; cyclegan uses 50)

    def __post_init__(self):
        checks = [
            (self.za_dim >= 0, "za_dim", ">= 0"), (self.zb_dim >= 0, "zb_dim", ">= 0"),
            (self.base >= 1, "base", ">= 1"), (self.n_blocks >= 0, "n_blocks", ">= 0"),
            (self.n_down >= 0, "n_down", ">= 0"), (self.e_base >= 1, "e_base", ">= 1"),
            (self.e_layers >= 1, "e_layers", ">= 1"), (self.d_base >= 1, "d_base", ">= 1"),
            (self.d_layers >= 0, "d_layers", ">= 0"), (self.dz_hidden >= 1, "dz_hidden", ">= 1"),
            (self.lambda_a >= 0, "lambda_a", ">= 0"), (self.lambda_b >= 0, "lambda_b", ">= 0"),
            (self.lambda_za >= 0, "lambda_za", ">= 0"), (self.lambda_zb >= 0, "lambda_zb", ">= 0"),
            (self.latent_adv_weight >= 0, "latent_adv_weight", ">= 0"), (self.pool_size >= 0, "pool_size", ">= 0"),
        ]
        for ok, key, want in checks:
            if not ok:
                raise ValueError(f"model.{key}={getattr(self, key)!r} is invalid; expected {want}")
        if self.za_dim == 0 and self.zb_dim == 0:
            raise ValueError("model.za_dim=0 and model.zb_dim=0 leave no latent code; set one >= 1 "
                             "(or use cyclegan for deterministic maps)")
        if self.loss not in LOSSES:
            raise ValueError(f"model.loss={self.loss!r} is not a registered loss; choose one of "
                             f"{', '.join(sorted(LOSSES))}")
        adv = LOSSES[self.loss]
        if adv.energy or adv.balance or adv.penalty is not None or adv.clip or adv.g_needs_real:
            raise ValueError(f"model.loss={self.loss!r} is not supported by augmented-cyclegan (needs a penalty, "
                             "clipping, an autoencoder D or D(real) in G's loss); use lsgan, nonsaturating, "
                             "minimax or hinge")
        if self.a == self.b:
            raise ValueError(f"model.a and model.b are both {self.a!r}; name two fields")


@register_model("augmented-cyclegan", config=AugmentedCycleGANConfig, family="conditional",
                help="many-to-many unpaired translation a <-> b: latent codes z_a, z_b injected by conditional "
                     "instance norm, encoders E(a, b), image and latent adversaries, augmented cycles "
                     "(Almahairi et al. 2018)",
                tiny={"a": "x", "b": "noisy", "za_dim": 2, "zb_dim": 3, "base": 4, "n_blocks": 1, "e_base": 4,
                      "e_layers": 2, "d_base": 4, "d_layers": 1, "dz_hidden": 8, "pool_size": 4},
                test_data="digits", test_data_options={"derive": "noise:gaussian:0.3"})
class AugmentedCycleGAN(GenerativeModel):
    conditional = True
    directions = DIRECTIONS
    stochastic = True  # translate() draws the target's code from the prior
    provides = frozenset({"generate", "translate"})
    ema_default = ("g_ab", "g_ba")
    train_defaults = {"lr": 2e-4, "betas": (0.5, 0.999), "group_lr": {"discriminator": 4e-5}, "grad_clip": 500.0,
                      "batch_size": 32, "lr_schedule": "linear", "steps": 5000}

    @classmethod
    def required_fields(cls, config: AugmentedCycleGANConfig) -> dict[str, tuple[str, ...]]:
        return {config.a: ("image", "field"), config.b: ("image", "field")}

    def __init__(self, config: AugmentedCycleGANConfig, data: DataInfo):
        super().__init__(config, data)
        sa, sb = data.fields[config.a], data.fields[config.b]
        h, w = shared_grid("augmented-cyclegan", data, config.a, config.b, halvings=config.n_down, key="n_down")
        self.size_multiple = 2 ** config.n_down  # translate() takes any H, W divisible by this
        ca, cb = sa.shape[0], sb.shape[0]
        self.bounded = {"a": sa.bounded, "b": sb.bounded}
        self.zdim = {"a": config.za_dim, "b": config.zb_dim}
        self.adv = LOSSES[config.loss]
        pa = tuple(ax + 1 for ax in sa.periodic if ax in (1, 2)) or None  # (C, H, W) axes -> (B, C, H, W) dims
        pb = tuple(ax + 1 for ax in sb.periodic if ax in (1, 2)) or None
        both = tuple(ax for ax in (pa or ()) if ax in (pb or ())) or None  # the encoders see a and b at once

        def gen(c_in, c_out, z_dim, bounded, periodic):
            kw = dict(base=config.base, n_down=config.n_down, n_blocks=config.n_blocks, periodic_axes=periodic,
                      out_activation="tanh" if bounded else "none")
            if z_dim == 0:
                return ResnetGenerator(c_in, c_out, norm="instance", **kw)
            return LatentResnetGenerator(c_in, c_out, z_dim, **kw)

        def disc(c, periodic):
            return PatchDiscriminator(c, base=config.d_base, n_layers=config.d_layers, norm="instance",
                                      periodic_axes=periodic)

        def enc(z_dim):
            return LatentEncoder(ca + cb, z_dim, base=config.e_base, n_layers=config.e_layers, periodic_axes=both)

        def zdisc(z_dim):
            return MLP(z_dim, 1, hidden=config.dz_hidden, depth=3, act=partial(nn.LeakyReLU, 0.2))

        self.g_ab = gen(ca, cb, config.zb_dim, sb.bounded, pb)
        self.g_ba = gen(cb, ca, config.za_dim, sa.bounded, pa)
        self.e_a = enc(config.za_dim) if config.za_dim else None
        self.e_b = enc(config.zb_dim) if config.zb_dim else None
        self.d_a, self.d_b = disc(ca, pa), disc(cb, pb)
        latent_adv = config.latent_adv_weight > 0
        self.d_za = zdisc(config.za_dim) if config.za_dim and latent_adv else None
        self.d_zb = zdisc(config.zb_dim) if config.zb_dim and latent_adv else None
        gh, gw = self.d_a.logit_grid(h, w)
        if gh < 1 or gw < 1:
            raise GenlabError(f"model.d_layers={config.d_layers} is too deep for {h}x{w} fields; lower it")
        self.pool_a = HistoryPool(config.pool_size, tuple(sa.shape))  # fakes of domain A, judged by D_A
        self.pool_b = HistoryPool(config.pool_size, tuple(sb.shape))
        self._cache: list[tuple[tuple, dict]] = []  # this step's detached G-phase outputs, by batch key

    # --- the contract -------------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        nets = {"g_ab": self.g_ab, "g_ba": self.g_ba, "e_a": self.e_a, "e_b": self.e_b,
                "d_a": self.d_a, "d_b": self.d_b, "d_za": self.d_za, "d_zb": self.d_zb}
        return {k: v for k, v in nets.items() if v is not None}

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        nets = self.networks()
        return {"generator": [p for k in ("g_ab", "g_ba", "e_a", "e_b") if k in nets for p in nets[k].parameters()],
                "discriminator": [p for k in ("d_a", "d_b", "d_za", "d_zb") if k in nets
                                  for p in nets[k].parameters()]}

    def phases(self, step: int) -> list[Phase]:
        self._cache = []  # a new step: the previous step's fakes are stale
        return [Phase("generator", self.g_loss), Phase("discriminator", self.d_loss)]

    # --- spaces and pieces --------------------------------------------------------------------
    def to_g(self, x: Tensor, domain: str) -> Tensor:
        """Model space -> G space of `domain` ("a" | "b"): 2x − 1 for bounded fields, x otherwise."""
        return x * 2.0 - 1.0 if self.bounded[domain] else x

    def from_g(self, y: Tensor, domain: str) -> Tensor:
        """G space -> model space of `domain`: (y + 1) / 2 clamped to [0, 1] for bounded fields."""
        return ((y.float() + 1.0) / 2.0).clamp(0.0, 1.0) if self.bounded[domain] else y.float()

    def prior(self, n: int, domain: str, like: Tensor, generator: Optional[torch.Generator]) -> Optional[Tensor]:
        """n codes z_domain ~ N(0, I), (n, z_dim) on `like`'s device, drawn from `generator`; None if the
        domain has no code (z_dim = 0)."""
        dim = self.zdim[domain]
        if dim == 0:
            return None
        return randn((n, dim), generator=generator).to(like.device)

    def _ab(self, a: Tensor, z_b: Optional[Tensor]) -> Tensor:
        return self.g_ab(a) if z_b is None else self.g_ab(a, z_b)

    def _ba(self, b: Tensor, z_a: Optional[Tensor]) -> Tensor:
        return self.g_ba(b) if z_a is None else self.g_ba(b, z_a)

    @staticmethod
    def _enc(net: Optional[nn.Module], a: Tensor, b: Tensor) -> Optional[Tensor]:
        return None if net is None else net(torch.cat([a, b.to(a.dtype)], 1))

    def _key(self, batch: Batch) -> tuple:
        a, b = batch[self.config.a], batch[self.config.b]
        return (a.data_ptr(), tuple(a.shape), b.data_ptr(), tuple(b.shape))

    @staticmethod
    def _l1(x: Tensor, y: Tensor) -> Tensor:
        return (x.float() - y.float()).abs().mean()

    # --- the losses ---------------------------------------------------------------------------
    def g_loss(self, batch: Batch) -> dict:
        """L_G of the module docstring. Logs each unweighted term: g_ab = g(D_B(b̃)), g_ba = g(D_A(ã)),
        g_za = g(D_Za(z̃_a)), g_zb = g(D_Zb(z̃_b)), cycle_a, cycle_b, cycle_za, cycle_zb (terms of a
        direction without a code, or of an absent latent D, are left out)."""
        cfg = self.config
        ra, rb = self.to_g(batch[cfg.a], "a"), self.to_g(batch[cfg.b], "b")
        z_b = self.prior(ra.shape[0], "b", ra, batch.generator)  # drawn first
        z_a = self.prior(rb.shape[0], "a", rb, batch.generator)
        # the cycle from (a, z_b)
        fake_b = self._ab(ra, z_b)
        zt_a = self._enc(self.e_a, ra, fake_b)
        rec_a = self._ba(fake_b, zt_a)
        rec_zb = self._enc(self.e_b, ra, fake_b)
        # the cycle from (b, z_a)
        fake_a = self._ba(rb, z_a)
        zt_b = self._enc(self.e_b, fake_a, rb)
        rec_b = self._ab(fake_a, zt_b)
        rec_za = self._enc(self.e_a, fake_a, rb)

        det = lambda t: None if t is None else t.detach()  # noqa: E731
        self._cache.append((self._key(batch), {"fake_b": det(fake_b), "fake_a": det(fake_a), "zt_a": det(zt_a),
                                               "zt_b": det(zt_b), "z_a": z_a, "z_b": z_b}))
        out = {"g_ab": self.adv.g(self.d_b(fake_b)), "g_ba": self.adv.g(self.d_a(fake_a)),
               "cycle_a": self._l1(rec_a, ra), "cycle_b": self._l1(rec_b, rb)}
        loss = out["g_ab"] + out["g_ba"] + cfg.lambda_a * out["cycle_a"] + cfg.lambda_b * out["cycle_b"]
        if z_b is not None:
            out["cycle_zb"] = self._l1(rec_zb, z_b)
            loss = loss + cfg.lambda_zb * out["cycle_zb"]
        if z_a is not None:
            out["cycle_za"] = self._l1(rec_za, z_a)
            loss = loss + cfg.lambda_za * out["cycle_za"]
        if self.d_za is not None:
            out["g_za"] = self.adv.g(self.d_za(zt_a))
            loss = loss + cfg.latent_adv_weight * out["g_za"]
        if self.d_zb is not None:
            out["g_zb"] = self.adv.g(self.d_zb(zt_b))
            loss = loss + cfg.latent_adv_weight * out["g_zb"]
        return {"loss": loss, **{k: v.detach() for k, v in out.items()}}

    def _g_outputs(self, batch: Batch, ra: Tensor, rb: Tensor) -> dict:
        """This step's G-phase outputs on this batch, else regenerated (no_grad, G's current weights, new
        prior draws z_b then z_a from batch.generator)."""
        key = self._key(batch)
        for i, (k, v) in enumerate(self._cache):
            if k == key:
                del self._cache[i]
                return v
        with torch.no_grad():
            z_b = self.prior(ra.shape[0], "b", ra, batch.generator)
            z_a = self.prior(rb.shape[0], "a", rb, batch.generator)
            fake_b, fake_a = self._ab(ra, z_b), self._ba(rb, z_a)
            return {"fake_b": fake_b, "fake_a": fake_a, "zt_a": self._enc(self.e_a, ra, fake_b),
                    "zt_b": self._enc(self.e_b, fake_a, rb), "z_a": z_a, "z_b": z_b}

    def d_loss(self, batch: Batch) -> dict:
        """L_D = ½ [d(D_A(a), D_A(pool_a(ã))) + d(D_B(b), D_B(pool_b(b̃))) + d(D_Za(z_a), D_Za(z̃_a))
        + d(D_Zb(z_b), D_Zb(z̃_b))], the latent terms where those D exist."""
        cfg = self.config
        ra, rb = self.to_g(batch[cfg.a], "a"), self.to_g(batch[cfg.b], "b")
        o = self._g_outputs(batch, ra, rb)
        fake_b = self.pool_b.query(o["fake_b"], batch.generator).to(ra.dtype)
        fake_a = self.pool_a.query(o["fake_a"], batch.generator).to(ra.dtype)
        out = {"d_a": self.adv.d(self.d_a(ra), self.d_a(fake_a)), "d_b": self.adv.d(self.d_b(rb), self.d_b(fake_b))}
        if self.d_za is not None:
            out["d_za"] = self.adv.d(self.d_za(o["z_a"]), self.d_za(o["zt_a"]))
        if self.d_zb is not None:
            out["d_zb"] = self.adv.d(self.d_zb(o["z_b"]), self.d_zb(o["zt_b"]))
        return {"loss": 0.5 * sum(out.values()), **{k: v.detach() for k, v in out.items()}}

    # --- outputs ------------------------------------------------------------------------------
    def _direction(self, direction: str) -> tuple[str, str]:
        if direction not in DIRECTIONS:
            raise GenlabError(f"direction={direction!r} is invalid; expected AtoB or BtoA")
        return ("a", "b") if direction == "AtoB" else ("b", "a")

    @torch.no_grad()
    def translate(self, x: Tensor, direction: str = "AtoB", z: Optional[Tensor] = None, *,
                  generator: Optional[torch.Generator] = None) -> Tensor:
        """x (B, C_src, H, W) in model space of the source domain -> (B, C_dst, H, W) in model space of
        the other: "AtoB" = G_AB(a, z_b), "BtoA" = G_BA(b, z_a). z: the target domain's code, (B, z_dim) or
        (z_dim,) for all inputs; None = drawn from the prior N(0, I) with `generator`."""
        src, dst = self._direction(direction)
        dim = self.zdim[dst]
        xs = self.to_g(x, src)
        if dim == 0:
            if z is not None:
                raise GenlabError(f"{direction} is deterministic (model.z{dst}_dim=0); pass no z")
        elif z is None:
            z = self.prior(x.shape[0], dst, x, generator)
        else:
            z = z.to(x.device, torch.float32)
            z = z.expand(x.shape[0], dim) if z.shape == (dim,) else z
            if z.shape != (x.shape[0], dim):
                raise GenlabError(f"z has shape {tuple(z.shape)}; {direction} needs ({x.shape[0]}, {dim}) or ({dim},)")
        y = self._ab(xs, z) if direction == "AtoB" else self._ba(xs, z)
        return self.from_g(y, dst)

    @torch.no_grad()
    def translate_many(self, x: Tensor, k: int, direction: str = "AtoB",
                       generator: Optional[torch.Generator] = None) -> Tensor:
        """K translations of each input, (B, K, C_dst, H, W): sample j of input i uses prior code z[i, j]
        (one (B, K, z_dim) draw from `generator`). A deterministic direction repeats its one output."""
        if not isinstance(k, int) or k < 1:
            raise GenlabError(f"k={k!r} is invalid; expected an integer >= 1")
        src, dst = self._direction(direction)
        n, dim = x.shape[0], self.zdim[dst]
        z = None if dim == 0 else randn((n, k, dim), generator=generator).to(x.device).reshape(n * k, dim)
        y = self.translate(x.repeat_interleave(k, 0), direction, z=z)
        return y.view(n, k, *y.shape[1:])

    @torch.no_grad()
    def infer_latents(self, a: Tensor, b: Tensor) -> tuple[Optional[Tensor], Optional[Tensor]]:
        """The codes of a pair (a, b) in model space: (E_A(a, b), E_B(a, b)), each (B, z_dim) or None for a
        domain without a code. translate(a, "AtoB", z=E_B(a, b)) re-renders a in the style of b."""
        ra, rb = self.to_g(a, "a"), self.to_g(b, "b")
        return self._enc(self.e_a, ra, rb), self._enc(self.e_b, ra, rb)

    @torch.no_grad()
    def generate(self, batch: Batch, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """One sample b̂ = G_AB(a, z_b), z_b ~ N(0, I) from `generator`, in model space of field b."""
        return self.translate(batch[self.config.a], "AtoB", generator=generator)

    def preview(self, batch: Optional[Batch], *, n: int, generator: Optional[torch.Generator] = None) -> list[Panel]:
        """a | PREVIEW_SAMPLES samples of A→B | b | PREVIEW_SAMPLES samples of B→A (one for a deterministic
        direction) for the first examples of each domain."""
        if batch is None:
            raise GenlabError("augmented-cyclegan previews need input examples of both domains")
        cfg = self.config
        a, b = batch[cfg.a][:n], batch[cfg.b][:n]
        panels = [Panel(cfg.a, a, cfg.a)]
        kb, ka = (PREVIEW_SAMPLES if self.zdim[d] else 1 for d in ("b", "a"))
        ab = self.translate_many(a, kb, "AtoB", generator=generator)
        panels += [Panel(f"A to B #{j + 1}", ab[:, j], cfg.b) for j in range(kb)]
        panels.append(Panel(cfg.b, b, cfg.b))
        ba = self.translate_many(b, ka, "BtoA", generator=generator)
        return panels + [Panel(f"B to A #{j + 1}", ba[:, j], cfg.a) for j in range(ka)]
