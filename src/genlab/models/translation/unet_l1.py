"""`unet-l1`: a U-Net that regresses one field from another with an L1 (or L2) loss — the deterministic
baseline of image-to-image translation and restoration (pix2pix's "L1 only" ablation, Isola et al. 2017):

    ŷ = U(a),        L = E ‖ŷ − b‖₁     (or ½‖ŷ − b‖² with model.loss=l2),

with `a` = field `model.input` and `b` = field `model.target` of the data. Any pair of fields works, e.g.
a denoiser from a derived field: `genlab train unet-l1 --data fashion-mnist --data.derive=noise:gaussian:0.2
--model.input=noisy --model.target=x`, or paired folders (`--data folder-pairs`, fields a and b).

THIS FILE IS THE TEMPLATE FOR A NEW MODEL (docs/architecture.md, "Adding a model"): copy it, rename the
config and class, keep the four declarations and the four methods of the contract, and register it. The
trainer, the CLI, checkpoints, EMA, DDP and the contract tests then work without any other change.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from ...errors import GenlabError
from ...nn import UNet
from ...registry import register_model
from .grid import shared_grid
from ..base import Batch, DataInfo, GenerativeModel, Panel, Phase


# 1. The config: a dataclass whose fields become --model.KEY flags; __post_init__ names bad values.
@dataclass
class UNetL1Config:
    input: str = "a"  # field the model reads
    target: str = "b"  # field it predicts
    base: int = 64  # U-Net width at full resolution
    depth: int = 4  # number of halvings (H and W must be divisible by 2**depth)
    norm: str = "batch"  # batch | instance | none (U-Net normalisation)
    loss: str = "l1"  # l1 | l2

    def __post_init__(self):
        if self.base < 1 or self.depth < 1:
            raise ValueError(f"model.base={self.base} / model.depth={self.depth} are invalid; expected >= 1")
        if self.loss not in ("l1", "l2"):
            raise ValueError(f"model.loss={self.loss!r} is invalid; expected l1 or l2")
        if self.norm not in ("batch", "instance", "none"):
            raise ValueError(f"model.norm={self.norm!r} is invalid; expected batch, instance or none")
        if self.input == self.target:
            raise ValueError(f"model.input and model.target are both {self.input!r}; name two fields")


# 2. Register: a name, the config, a family, one line of help, and a tiny config + test data for the
#    registry-parametrised contract tests (tests/test_model_contract.py, tests/test_contract_v2.py).
@register_model("unet-l1", config=UNetL1Config, family="conditional",
                help="U-Net regression of one field from another (L1/L2): the translation/restoration baseline",
                tiny={"base": 4, "depth": 2, "input": "noisy", "target": "x"},
                test_data="digits", test_data_options={"derive": "noise:gaussian:0.3"})
class UNetL1(GenerativeModel):
    # 3. Declarations: what the data must provide, how it samples, what else it can do, training defaults.
    conditional = True  # outputs need an input batch: generate(batch), never sample(n)
    directions = ("AtoB",)  # input -> target (translation_fields)
    provides = frozenset({"generate", "translate"})
    train_defaults = {"lr": 2e-4, "betas": (0.5, 0.999), "batch_size": 16, "steps": 2000}

    @classmethod
    def required_fields(cls, config: UNetL1Config) -> dict[str, tuple[str, ...]]:
        return {config.input: ("image", "field"), config.target: ("image", "field")}

    @classmethod
    def paired_fields(cls, config: UNetL1Config) -> tuple[str, ...]:
        return (config.input, config.target)  # learns from aligned pairs

    def __init__(self, config: UNetL1Config, data: DataInfo):
        super().__init__(config, data)
        a, b = data.fields[config.input], data.fields[config.target]
        shared_grid("unet-l1", data, config.input, config.target, halvings=config.depth, key="depth")
        self.size_multiple = 2 ** config.depth  # translate() takes any H, W divisible by this
        # periodic axes of the target (e.g. longitude) are padded periodically, the others with zeros
        periodic = tuple(ax + 1 for ax in b.periodic if ax in (1, 2))  # (C, H, W) axes -> (B, C, H, W) dims
        self.network = UNet(a.shape[0], b.shape[0], base=config.base, depth=config.depth, norm=config.norm,
                            out_activation="sigmoid" if b.bounded else "none", periodic_axes=periodic or None)

    # 4. The contract: networks, (param_groups: default one group), phases, and generate/sample.
    def networks(self) -> dict[str, nn.Module]:
        return {"network": self.network}

    def phases(self, step: int) -> list[Phase]:
        return [Phase("model", self.loss)]

    def loss(self, batch: Batch) -> dict:
        """L = mean |U(a) − b| (l1) or mean ½ (U(a) − b)² (l2), in model space."""
        a, b = batch[self.config.input], batch[self.config.target]
        err = self.network(a).float() - b
        loss = err.abs().mean() if self.config.loss == "l1" else 0.5 * err.pow(2).mean()
        return {"loss": loss, "mae": err.abs().mean().detach()}

    @torch.no_grad()
    def generate(self, batch: Batch, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """ŷ = U(a) in model space of the target field, (B, C_b, H, W)."""
        return self.translate(batch[self.config.input])

    @torch.no_grad()
    def translate(self, x: Tensor, direction: str = "AtoB", *, generator: Optional[torch.Generator] = None) -> Tensor:
        """U(x) for inputs (B, C_a, H, W) of any H, W divisible by 2**depth (fully convolutional)."""
        self.translation_fields(direction)  # only AtoB
        return self.network(x).float()

    def preview(self, batch: Optional[Batch], *, n: int, generator: Optional[torch.Generator] = None) -> list[Panel]:
        """input | output | target for the first examples of the data."""
        if batch is None:
            raise GenlabError("unet-l1 previews need input examples")
        cfg = self.config
        return [Panel(cfg.input, batch[cfg.input], cfg.input), Panel("output", self.generate(batch), cfg.target),
                Panel(cfg.target, batch[cfg.target], cfg.target)]
