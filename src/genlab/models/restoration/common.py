"""What every super-resolution model shares: the config keys, the fields it reads, its spaces, `upscale`.

Fields: input `model.input` (default `lowres`, drawn from the high-resolution field by
`data.derive=lowres:F`, antialiased bicubic, nn/superres.py `bicubic_resize`) and target `model.target`
(default `x`, the high-resolution crop). The input must be exactly 1/scale of the target in H and W: a
run whose lowres factor is not model.scale is refused before any run directory exists. When the user gives
no data.derive, the model's default layer sets `data.derive=lowres:<scale>`.

Spaces (SRGAN's): bounded images are fed to G as 2x − 1 ∈ [−1, 1], and G's output is read in [−1, 1]
(no output activation; the pixel loss is measured there, the paper's "MSE on [−1, 1]"), mapped back to
[0, 1] by (y + 1) / 2 and clamped only when an output is returned (`upscale`, `generate`). Physical
fields (standardised by their normaliser) are used as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from ...errors import GenlabError
from ...nn.superres import SCALES, SRResNetGenerator, bicubic_resize
from ..base import Batch, DataInfo, Panel


@dataclass
class SuperResConfig:
    """The super-resolution keys (`--model.KEY`), shared by srresnet and srgan."""

    input: str = "lowres"  # low-resolution field G reads (data.derive=lowres:SCALE makes it)
    target: str = "x"  # high-resolution field G produces
    scale: int = 4  # upscaling factor: 2, 3, 4 or 8 (PixelShuffle steps of 2, or one of 3)
    width: int = 64  # feature channels F of the generator
    n_blocks: int = 16  # residual blocks B
    norm: str = "batch"  # batch (the paper) | none (EDSR's choice)
    padding: str = "zeros"  # conv padding: zeros (the paper) | reflect | replicate
    bicubic_skip: bool = False  # output = G's residual + bicubic(input), G starts at bicubic (not in the paper)

    def __post_init__(self):
        checks = [(self.scale in SCALES, "scale", f"one of {sorted(SCALES)}"), (self.width >= 1, "width", ">= 1"),
                  (self.n_blocks >= 0, "n_blocks", ">= 0"),
                  (self.norm in ("batch", "none"), "norm", "batch or none"),
                  (self.padding in ("zeros", "reflect", "replicate"), "padding", "zeros, reflect or replicate")]
        for ok, key, want in checks:
            if not ok:
                raise ValueError(f"model.{key}={getattr(self, key)!r} is invalid; expected {want}")
        if self.input == self.target:
            raise ValueError(f"model.input and model.target are both {self.input!r}; name two fields")


def data_defaults(config: SuperResConfig) -> dict:
    """The default data layer: derive the input by bicubic downsampling when it is the `lowres` field."""
    return {"derive": f"lowres:{config.scale}"} if config.input == "lowres" else {}


def check_shapes(name: str, config: SuperResConfig, data: DataInfo) -> None:
    """Input (C, h, w) and target (C', scale·h, scale·w), or a one-line GenlabError naming the fix."""
    a, b = data.fields[config.input], data.fields[config.target]
    if len(a.shape) != 3 or len(b.shape) != 3:
        raise GenlabError(f"{name} needs (C, H, W) fields; {config.input} is {a.shape}, {config.target} is {b.shape}")
    (_, h, w), (_, hh, ww) = a.shape, b.shape
    if (hh, ww) != (config.scale * h, config.scale * w):
        raise GenlabError(f"{name}: model.scale={config.scale} but field {config.input!r} is {h}x{w} and "
                          f"{config.target!r} is {hh}x{ww}; derive the input with data.derive=lowres:{config.scale} "
                          f"(or set model.scale to the data's factor)")


class SuperResolution:
    """Mixin of srresnet and srgan (before GenerativeModel in the bases): declarations, spaces, outputs.
    Subclasses set `self.generator` with `build_generator` and `self.scale`."""

    conditional = True
    provides = frozenset({"generate", "upscale"})

    @classmethod
    def required_fields(cls, config: SuperResConfig) -> dict[str, tuple[str, ...]]:
        return {config.input: ("image", "field"), config.target: ("image", "field")}

    @classmethod
    def paired_fields(cls, config: SuperResConfig) -> tuple[str, ...]:
        return (config.input, config.target)

    @classmethod
    def check_data(cls, config: SuperResConfig, info: DataInfo, *, model_name: str = "") -> None:
        """As GenerativeModel's, with the fix named when the derived low-resolution field is missing."""
        if config.input == "lowres" and "lowres" not in info.fields:
            s = config.scale
            raise GenlabError(f"model {model_name or cls.__name__} reads the field 'lowres', which the data lack; "
                              f"add lowres:{s} to data.derive (e.g. --data.derive=crop:96,lowres:{s})")
        super().check_data(config, info, model_name=model_name)  # type: ignore[misc]

    def build_generator(self, name: str, config: SuperResConfig, data: DataInfo) -> SRResNetGenerator:
        check_shapes(name, config, data)
        a, b = data.fields[config.input], data.fields[config.target]
        self.scale = config.scale
        self.input_bounded, self.target_bounded = a.bounded, b.bounded
        periodic = tuple(ax + 1 for ax in b.periodic if ax in (1, 2)) or None  # (C, H, W) axes -> (B, C, H, W)
        return SRResNetGenerator(a.shape[0], b.shape[0], scale=config.scale, width=config.width,
                                 n_blocks=config.n_blocks, norm=config.norm, padding_mode=config.padding,
                                 periodic_axes=periodic, bicubic_skip=config.bicubic_skip)

    # --- spaces -------------------------------------------------------------------------------
    def g_input(self, x: Tensor) -> Tensor:
        """Model-space input -> G's input (2x − 1 for bounded images)."""
        return x * 2.0 - 1.0 if self.input_bounded else x

    def g_target(self, y: Tensor) -> Tensor:
        """Model-space target -> G's output space ([−1, 1] for bounded images)."""
        return y * 2.0 - 1.0 if self.target_bounded else y

    def from_g(self, y: Tensor) -> Tensor:
        """G's output -> model space of the target ((y + 1)/2 clamped to [0, 1] for bounded images)."""
        return ((y.float() + 1.0) / 2.0).clamp(0.0, 1.0) if self.target_bounded else y.float()

    def pixel_error(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """(G(input), G(input) − target) in G space, (B, C', H, W) each."""
        out = self.generator(self.g_input(batch[self.config.input]))
        return out, out.float() - self.g_target(batch[self.config.target]).float()

    # --- outputs ------------------------------------------------------------------------------
    @property
    def context(self) -> int:
        """G's receptive radius in input pixels: the context a tile needs (apply/tiles.py `stitched`)."""
        return self.generator.context

    @torch.no_grad()
    def upscale(self, x: Tensor) -> Tensor:
        """x (B, C, h, w) in model space of the input field, any h, w -> (B, C', scale·h, scale·w) in model
        space of the target (images in [0, 1])."""
        return self.from_g(self.generator(self.g_input(x)))

    @torch.no_grad()
    def generate(self, batch: Batch, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """upscale(batch[input]): deterministic (no noise)."""
        return self.upscale(batch[self.config.input])

    def preview(self, batch: Optional[Batch], *, n: int, generator: Optional[torch.Generator] = None) -> list[Panel]:
        """bicubic | output | target for the first examples of the data."""
        if batch is None:
            raise GenlabError(f"{type(self).__name__} previews need input examples")
        cfg = self.config
        hr = batch[cfg.target]
        bicubic = bicubic_resize(batch[cfg.input], tuple(hr.shape[-2:]))
        bicubic = bicubic.clamp(0, 1) if self.target_bounded else bicubic
        return [Panel("bicubic", bicubic, cfg.target), Panel("output", self.generate(batch), cfg.target),
                Panel(cfg.target, hr, cfg.target)]
