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


@dataclass
class Batch:
    """One training or evaluation batch.

    x: data, (B, C, H, W) images scaled to [0, 1] or (B, D) vectors (see `DataInfo`).
    y: integer labels (B,) or None.
    generator: the trainer's noise stream on x's device; every random draw in a loss uses it so that
        runs (and resumed runs) are reproducible without touching global RNG state.
    """

    x: Tensor
    y: Optional[Tensor] = None
    generator: Optional[torch.Generator] = None


@dataclass(frozen=True)
class Phase:
    """One optimisation phase: minimise `loss(batch)["loss"]` w.r.t. parameter group `group`.

    Runs when `step % every == 0`. The returned dict's other entries are detached scalars to log.
    """

    group: str
    loss: Callable[[Batch], dict]
    every: int = 1


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data to build itself.

    shape: per-example shape, (C, H, W) for images or (D,) for vectors.
    levels: number of discrete values per dimension for quantised data (256 for 8-bit images, 17 for
        scikit-learn digits), None for continuous data. Data arrive scaled so that level k is k/(levels-1).
    n_classes: number of labels, 0 if unlabelled.
    """

    shape: tuple[int, ...]
    levels: Optional[int] = None
    n_classes: int = 0

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    @property
    def dims(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


class GenerativeModel(nn.Module):
    """Base class of every registered model.

    Required: `networks`, `param_groups`, `phases`, `sample`.
    Optional capabilities (return NotImplemented-free, discoverable via `capabilities()`):
      encode(x) -> z, decode(z) -> x, reconstruct(x) -> x_hat, nll(x, ...) -> per-example nats,
      sample_latent(n, generator) -> z.
    Subclasses set `train_defaults` (e.g. {"lr": 2e-4, "betas": (0.5, 0.999)}) to change trainer
    defaults for this model, or override `defaults_for` where defaults depend on the model config;
    explicit config values (presets, CLI) still win.
    """

    train_defaults: dict = {}

    @classmethod
    def defaults_for(cls, config) -> dict[str, dict]:
        """The lowest config layer of a run of this model with model config `config` (built from what
        the user gave): {"train": {...}} and optionally {"model": {...}} defaults that `config.resolve`
        puts under presets and CLI overrides. Default: {"train": train_defaults}."""
        return {"train": dict(cls.train_defaults)}

    def __init__(self, config, data: DataInfo):
        super().__init__()
        self.config = config
        self.data = data

    def check_train(self, train) -> None:
        """Raise ValueError if this model cannot train with these train settings (a TrainConfig); called
        once before a run directory is written. Default: any settings."""

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
        """Draw n samples in data space (images in [0, 1])."""
        raise TypeError(f"{type(self).__name__} must define sample()")

    # --- helpers ------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")

    def capabilities(self) -> set[str]:
        """Names of optional methods this model implements (used by the CLI, never by the trainer)."""
        names = ("encode", "decode", "reconstruct", "nll", "sample_latent")
        return {n for n in names if getattr(type(self), n, None) is not getattr(GenerativeModel, n, None)}

    def train_log(self) -> dict[str, Tensor]:
        """Extra detached scalars to log each step (e.g. a controller state). Default: none."""
        return {}

    # Optional capabilities: the base versions exist only so `capabilities()` can tell them apart,
    # and so asking a model for something it cannot do is a clear user error.
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

    def sample_latent(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        self._cannot("sample latents (it has no latent space)")


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
