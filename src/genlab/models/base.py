"""The model side of the phase contract (DESIGN §2).

A model says *what* an update computes (`phases`), never *how* it is run: the trainer owns devices,
optimizers, autocast, DDP, EMA, clipping, logging and files. A model never calls `backward`, `step`,
`.to(device)` or a logger.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from ..errors import GenlabError
from ..fields import Batch, DataInfo, FieldSpec  # noqa: F401  (the contract types live in genlab.fields)


@dataclass(frozen=True)
class Phase:
    """One optimisation phase: minimise `loss(batch)["loss"]` w.r.t. parameter group `group`.

    Runs when `step % every == 0`. The returned dict's other entries are detached scalars to log.
    """

    group: str
    loss: Callable[[Batch], dict]
    every: int = 1


@dataclass(frozen=True)
class Panel:
    """One column of a preview picture: `tensor` (n, ...) in model space of field `field`'s spec."""

    title: str
    tensor: Tensor
    field: str = "x"


CAPABILITIES = ("encode", "decode", "reconstruct", "nll", "elbo", "complete", "sample_latent", "generate",
                "translate", "upscale", "to_w", "decode_w", "infill", "denoise")


class GenerativeModel(nn.Module):
    """Base class of every registered model.

    Required: `networks`, `param_groups`, `phases`, and `sample` (unconditional models) or `generate`
    (models that map an input batch to an output, `conditional = True`).

    Declarations (class attributes, read by the trainer and the CLI, never probed with hasattr):
      requires: field name -> accepted kinds (() = any kind) the data must provide; checked by
          `check_data` before a run directory exists. Override `required_fields(config)` when it depends
          on the config.
      conditional: outputs need an input batch (`generate(batch)`); `sample(n)` is not available.
      sample_conditions: fields `sample(n, cond={...})` accepts (e.g. ("y",) for class-conditional models).
      provides: optional capabilities implemented (subset of CAPABILITIES): encode(x) -> z, decode(z) -> x,
          reconstruct(x), nll(x, ...) per-example nats, elbo(x), complete(x, mask), sample_latent(n),
          generate(batch), translate(x, direction), upscale(x) (super-resolution by `self.scale`),
          to_w(z) and decode_w(w) (an intermediate latent space W, StyleGAN's; `style_resolutions()` then
          names the resolution of each per-layer style), infill(x, mask) (inpainting: the raw output for
          holes where mask = 0), denoise(x) (a clean estimate of a noisy input). A contract test checks the
          declaration against the methods overridden.
      directions: translation directions ("AtoB", "BtoA"); `translation_fields(direction)` names the
          (source, destination) fields of each; `stochastic` = outputs vary with the generator (K samples
          per input differ).
      nll_options: keyword options `nll` takes (("k",): importance samples).
      nll_convention: 'discrete' | 'continuous' | 'bernoulli' (see metrics.likelihood).
      ema_default: networks averaged by `train.ema` unless train.ema_networks names others.
    Subclasses set `train_defaults` (e.g. {"lr": 2e-4, "betas": (0.5, 0.999)}) to change trainer
    defaults for this model, or override `defaults_for` where defaults depend on the model config;
    explicit config values (presets, CLI) still win.

    Spaces: models see and return *model space* (images in [0, 1], standardised physical fields); the
    field's normaliser (in `data.fields`) maps back to data space and physical units.
    """

    train_defaults: dict = {}
    requires: dict[str, tuple[str, ...]] = {"x": ()}
    conditional: bool = False
    directions: tuple[str, ...] = ()
    stochastic: bool = False
    sample_conditions: tuple[str, ...] = ()
    provides: frozenset[str] = frozenset()
    nll_options: tuple[str, ...] = ()
    nll_convention: str = "discrete"
    ema_default: tuple[str, ...] = ()

    @classmethod
    def defaults_for(cls, config) -> dict[str, dict]:
        """The lowest config layer of a run of this model with model config `config` (built from what
        the user gave): {"train": {...}} and optionally {"model": {...}} defaults that `config.resolve`
        puts under presets and CLI overrides. Default: {"train": train_defaults}."""
        return {"train": dict(cls.train_defaults)}

    @classmethod
    def required_fields(cls, config) -> dict[str, tuple[str, ...]]:
        """Field name -> accepted kinds for a run with model config `config`. Default: `requires`."""
        return dict(cls.requires)

    @classmethod
    def check_data(cls, config, info: DataInfo, *, model_name: str = "") -> None:
        """Raise GenlabError if the data lack a field this model needs (before any run directory)."""
        name = model_name or cls.__name__
        for field, kinds in cls.required_fields(config).items():
            spec = info.fields.get(field)
            have = ", ".join(f"{k} ({v.kind})" for k, v in info.fields.items())
            if spec is None:
                raise GenlabError(f"model {name} needs a field {field!r}{' (' + '/'.join(kinds) + ')' if kinds else ''}"
                                  f" but the data have only: {have}; choose a dataset that provides it "
                                  "('genlab data info NAME' lists a dataset's fields)")
            if kinds and spec.kind not in kinds:
                raise GenlabError(f"model {name} needs field {field!r} of kind {'/'.join(kinds)}, but the "
                                  f"data's {field!r} is {spec.kind}; choose a matching dataset")
        paired = cls.paired_fields(config)
        for a, b in zip(paired, paired[1:]):
            if not info.aligned(a, b):
                raise GenlabError(f"model {name} learns from pairs ({a}, {b}) but the data give {a} and {b} as "
                                  "unpaired streams; use paired data (e.g. folder-pairs) or an unpaired model "
                                  "(cyclegan, augmented-cyclegan)")

    @classmethod
    def paired_fields(cls, config) -> tuple[str, ...]:
        """Fields that must come from the same example (paired translation: input and target). Default ()."""
        return ()

    def __init__(self, config, data: DataInfo):
        super().__init__()
        self.config = config
        self.data = data

    def check_train(self, train) -> None:
        """Raise ValueError if this model cannot train with these train settings (a TrainConfig); called
        once before a run directory is written. Default: any settings."""

    def warm_start_source(self) -> Optional[str]:
        """A run directory whose weights initialise a *new* run of this model before step 0 (e.g. SRGAN's
        generator from an SRResNet run); None (default) = train from the seeded initialisation. The CLI
        loads that run (runs.warm_start) and hands it to `warm_start`; resumed and loaded runs never do."""
        return None

    def warm_start(self, run) -> None:
        """Copy weights from `run` (a runs.LoadedRun); raise GenlabError if it does not fit this model."""
        raise GenlabError(f"model {type(self).__name__} cannot be initialised from another run")

    # --- the contract -------------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        """Top-level sub-networks by attribute name: what the trainer DDP-wraps, EMAs, checkpoints."""
        raise TypeError(f"{type(self).__name__} must define networks()")

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Optimizer groups: name -> parameters. Default: one group "model" with every parameter."""
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    def phases(self, step: int) -> list[Phase]:
        """The updates to run at this step, in order."""
        raise TypeError(f"{type(self).__name__} must define phases()")

    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """Draw n samples in model space (images in [0, 1])."""
        if self.conditional:
            raise GenlabError(f"model {type(self).__name__} maps an input to an output and cannot sample "
                              "from nothing; give it inputs (e.g. genlab translate / superres / inpaint)")
        raise TypeError(f"{type(self).__name__} must define sample()")

    def preview(self, batch: Optional[Batch], *, n: int, generator: Optional[torch.Generator] = None) -> list[Panel]:
        """The columns of the run's preview picture. Default: n unconditional samples of `x`. Conditional
        models override it (e.g. input | output | target from `batch`, the first examples of the data)."""
        if self.conditional:
            raise TypeError(f"{type(self).__name__} is conditional and must define preview()")
        return [Panel("samples", self.sample(n, generator=generator), self.data.primary)]

    # --- helpers ------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")

    def capabilities(self) -> set[str]:
        """The optional capabilities this model declares (`provides`)."""
        return set(type(self).provides)

    def train_log(self) -> dict[str, Tensor]:
        """Extra detached scalars to log each step (e.g. a controller state). Default: none."""
        return {}

    # Optional capabilities: the base versions exist so that asking a model for something it cannot do
    # is a clear user error.
    def _cannot(self, what: str):
        raise GenlabError(f"model {type(self).__name__} cannot {what}; use a model that can "
                          f"(see 'genlab list models')")

    def encode(self, x: Tensor) -> Tensor:
        self._cannot("encode images (it has no encoder)")

    def decode(self, z: Tensor) -> Tensor:
        self._cannot("decode latents")

    def reconstruct(self, x: Tensor) -> Tensor:
        self._cannot("reconstruct inputs (it has no encoder)")

    def nll(self, x: Tensor, *, generator: Optional[torch.Generator] = None, **kwargs) -> Tensor:
        self._cannot("compute a likelihood")

    def elbo(self, x: Tensor, *, generator: Optional[torch.Generator] = None) -> Tensor:
        self._cannot("compute an ELBO")

    def complete(self, x: Tensor, mask: Tensor, *, generator: Optional[torch.Generator] = None) -> Tensor:
        self._cannot("complete partly hidden images")

    def sample_latent(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        self._cannot("sample latents (it has no latent space)")

    def generate(self, batch: Batch, *, generator: Optional[torch.Generator] = None) -> Tensor:
        self._cannot("map an input batch to an output (it samples from nothing; use genlab sample)")

    def to_w(self, z: Tensor, *, psi: Optional[float] = None) -> Tensor:
        """Prior latents z (B, D) -> intermediate latents w (B, D_w), truncated by ψ toward their mean
        (None: the model's configured ψ)."""
        self._cannot("map latents to an intermediate space W")

    def decode_w(self, w: Tensor) -> Tensor:
        """w (B, D_w), or (B, L, D_w) one per synthesis layer (style mixing) -> images in model space."""
        self._cannot("decode intermediate latents w")

    def style_resolutions(self) -> tuple[int, ...]:
        """Resolution at which each of decode_w's L per-layer styles acts (() without per-layer styles)."""
        return ()

    def translate(self, x: Tensor, direction: str = "AtoB", *, generator: Optional[torch.Generator] = None) -> Tensor:
        """x (B, C_src, H, W) in model space of the source field -> (B, C_dst, H', W') of the destination."""
        self._cannot("translate images between domains")

    def upscale(self, x: Tensor) -> Tensor:
        """x (B, C, h, w) in model space of the low-resolution field -> (B, C', scale·h, scale·w)."""
        self._cannot("super-resolve images (use an srresnet or srgan run)")

    def infill(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (N, C, H, W) in model space, mask (N, 1|C, H, W), 1 = known -> the raw output (N, C, H, W) (holes
        filled; the caller composites out · (1 − mask) + x · mask)."""
        self._cannot("fill holes (use an inpaint run)")

    def denoise(self, x: Tensor) -> Tensor:
        """A noisy x (N, C, H, W) in model space -> the clean estimate (N, C, H, W)."""
        self._cannot("denoise images (use a denoise run)")

    def translation_fields(self, direction: str) -> tuple[str, str]:
        """(source field, destination field) of a translation direction."""
        if direction not in self.directions:
            raise GenlabError(f"direction {direction!r} is not one of this model's: "
                              f"{', '.join(self.directions) or 'none (it does not translate)'}")
        cfg = self.config
        if direction == "AtoB":
            return (cfg.input, cfg.target) if hasattr(cfg, "input") else (cfg.a, cfg.b)
        return cfg.b, cfg.a


def overridden_capabilities(cls: type) -> set[str]:
    """Capabilities whose method `cls` overrides (used by the contract test against `provides`)."""
    return {n for n in CAPABILITIES if getattr(cls, n) is not getattr(GenerativeModel, n)}


def randn(shape, like: Tensor | None = None, *, generator: Optional[torch.Generator] = None,
          device=None, dtype=None) -> Tensor:
    """Standard normal noise drawn from `generator` (on its device) — the one way models draw noise."""
    if like is not None:
        device = like.device if device is None else device
        dtype = like.dtype if dtype is None else dtype
    if generator is not None:
        device = generator.device
    return torch.randn(shape, generator=generator, device=device, dtype=dtype or torch.float32)


def rand(shape, like: Tensor | None = None, *, generator: Optional[torch.Generator] = None,
         device=None, dtype=None) -> Tensor:
    """Uniform [0, 1) noise drawn from `generator`."""
    if like is not None:
        device = like.device if device is None else device
        dtype = like.dtype if dtype is None else dtype
    if generator is not None:
        device = generator.device
    return torch.rand(shape, generator=generator, device=device, dtype=dtype or torch.float32)
