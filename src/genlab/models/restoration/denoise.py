"""`denoise`: a U-Net denoiser of images and fields (the partial-convolution U-Net family with plain convs):

    x̂ = y + U(y)   (model.residual=true, DnCNN's residual learning)   or   x̂ = U(y),
    L = E |x̂ − x|  (model.loss=l1)   or   E (x̂ − x)²  (mse),

with y = field `model.input` (default `noisy`, drawn per batch from the clean field by `data.derive=noise:
gaussian:σ | poisson:peak | saltpepper:p`, set to noise:gaussian:0.1 by default) and x = field `model.target`
(default `x`). U = nn/partialconv.py `PartialConvUNet(partial=False)`: the inpainting network's stride-2
encoder (7x7, 5x5, 5x5, 3x3 … convs), nearest-upsampling decoder with skip concatenation and the input
concatenated before the last layer, here with plain convolutions and no mask. With residual=true the last
layer starts at zero, so an untrained model returns its input (the noisy baseline) and learns the correction.

Spaces: bounded images enter U as 2y − 1 and the residual is added there ([−1, 1]); the loss is measured in
model space ([0, 1] images, standardised fields). `denoise(y)` takes any H, W (padded by reflection to a
multiple of 2**depth and cropped back) and returns model space (images clamped to [0, 1]).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import GenlabError
from ...nn.partialconv import PartialConvUNet
from ...registry import register_model
from ..base import Batch, DataInfo, GenerativeModel, Panel, Phase
from ..translation.grid import shared_grid


@dataclass
class DenoiseConfig:
    """`--model.KEY` flags of `denoise`."""

    input: str = "noisy"  # noisy field (data.derive=noise:... makes it)
    target: str = "x"  # clean field
    depth: int = 4  # encoder levels (H, W are padded to multiples of 2**depth)
    base: int = 64  # channels of the first level, doubled per level
    max_channels: int = 512  # channel cap of the deeper levels
    norm: str = "batch"  # norm after each conv but the first and last: batch | instance | group | none
    padding: str = "zeros"  # zeros | reflect | replicate; periodic field axes always wrap
    loss: str = "l1"  # l1 | mse
    residual: bool = True  # x̂ = y + U(y), U's last layer zero-initialised

    def __post_init__(self):
        checks = [(self.depth >= 1, "depth", ">= 1"), (self.base >= 1, "base", ">= 1"),
                  (self.max_channels >= 1, "max_channels", ">= 1"),
                  (self.norm in ("batch", "instance", "group", "none"), "norm", "batch, instance, group or none"),
                  (self.padding in ("zeros", "reflect", "replicate"), "padding", "zeros, reflect or replicate"),
                  (self.loss in ("l1", "mse"), "loss", "l1 or mse")]
        for ok, key, want in checks:
            if not ok:
                raise ValueError(f"model.{key}={getattr(self, key)!r} is invalid; expected {want}")
        if self.input == self.target:
            raise ValueError(f"model.input and model.target are both {self.input!r}; name two fields")


@register_model("denoise", config=DenoiseConfig, family="conditional",
                help="denoising of images and fields: a U-Net (the partial-conv U-Net with plain convs), "
                     "residual, L1/MSE; noise from data.derive=noise:gaussian:S|poisson:P|saltpepper:P",
                tiny={"depth": 2, "base": 4, "max_channels": 8},
                test_data="digits", test_data_options={"derive": "noise:gaussian:0.2"})
class Denoise(GenerativeModel):
    conditional = True
    provides = frozenset({"generate", "denoise"})
    train_defaults = {"lr": 2e-4, "betas": (0.9, 0.999), "batch_size": 16, "steps": 20000}

    @classmethod
    def defaults_for(cls, config: DenoiseConfig) -> dict[str, dict]:
        data = {"derive": "noise:gaussian:0.1"} if config.input == "noisy" else {}
        return {"train": dict(cls.train_defaults), "data": data}

    @classmethod
    def required_fields(cls, config: DenoiseConfig) -> dict[str, tuple[str, ...]]:
        return {config.input: ("image", "field"), config.target: ("image", "field")}

    @classmethod
    def paired_fields(cls, config: DenoiseConfig) -> tuple[str, ...]:
        return (config.input, config.target)

    @classmethod
    def check_data(cls, config: DenoiseConfig, info: DataInfo, *, model_name: str = "") -> None:
        if config.input == "noisy" and "noisy" not in info.fields:
            raise GenlabError(f"model {model_name or 'denoise'} reads the field 'noisy', which the data lack; add "
                              "noise:gaussian:0.1 (or noise:poisson:PEAK, noise:saltpepper:P) to data.derive")
        super().check_data(config, info, model_name=model_name)

    def __init__(self, config: DenoiseConfig, data: DataInfo):
        super().__init__(config, DataInfo.of(data.fields, primary=config.target))
        shared_grid("denoise", data, config.input, config.target)
        a, b = data.fields[config.input], data.fields[config.target]
        if a.shape[0] != b.shape[0]:
            raise GenlabError(f"denoise maps a field to one of the same channels; {config.input} has {a.shape[0]}, "
                              f"{config.target} {b.shape[0]}")
        self.bounded, self.channels = b.bounded, b.shape[0]
        periodic = tuple(ax + 1 for ax in b.periodic if ax in (1, 2)) or None
        self.network = PartialConvUNet(a.shape[0], b.shape[0], depth=config.depth, base=config.base,
                                       max_channels=config.max_channels, norm=config.norm, partial=False,
                                       padding_mode=config.padding, periodic_axes=periodic,
                                       zero_last=config.residual)
        self.multiple, self.context = self.network.multiple, self.network.context

    def networks(self) -> dict[str, nn.Module]:
        return {"network": self.network}

    def phases(self, step: int) -> list[Phase]:
        return [Phase("model", self.loss)]

    def _g(self, y: Tensor) -> Tensor:
        """x̂ in model space, unclamped, for H and W multiples of 2**depth."""
        yg = y * 2.0 - 1.0 if self.bounded else y
        out = self.network(yg).float()
        out = out + yg.float() if self.config.residual else out
        return (out + 1.0) / 2.0 if self.bounded else out

    def loss(self, batch: Batch) -> dict:
        """L = mean |x̂ − x| (l1) or mean (x̂ − x)² (mse), in model space."""
        err = self._g(batch[self.config.input]) - batch[self.config.target].float()
        mse = err.pow(2).mean()
        return {"loss": err.abs().mean() if self.config.loss == "l1" else mse, "mse": mse.detach()}

    @torch.no_grad()
    def denoise(self, x: Tensor) -> Tensor:
        """A noisy x (N, C, H, W) of any H, W in model space -> x̂ (images clamped to [0, 1])."""
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise GenlabError(f"denoise needs (N, {self.channels}, H, W) inputs, got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        ph, pw = -h % self.multiple, -w % self.multiple
        if ph or pw:  # reflect where the image is large enough, else repeat the edge
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if ph < h and pw < w else "replicate")
        out = self._g(x)[..., :h, :w]
        return out.clamp(0.0, 1.0) if self.bounded else out

    @torch.no_grad()
    def generate(self, batch: Batch, *, generator: Optional[torch.Generator] = None) -> Tensor:
        return self.denoise(batch[self.config.input])

    def preview(self, batch: Optional[Batch], *, n: int, generator: Optional[torch.Generator] = None) -> list[Panel]:
        """noisy | output | clean."""
        if batch is None:
            raise GenlabError("denoise previews need input examples")
        cfg = self.config
        return [Panel(cfg.input, batch[cfg.input], cfg.input), Panel("output", self.generate(batch), cfg.target),
                Panel(cfg.target, batch[cfg.target], cfg.target)]
