"""`srresnet`: PSNR-oriented single-image super-resolution (Ledig et al. 2017, SRResNet):

    Î = G(I_LR),        L = E ‖Î − I_HR‖²   (model.loss=mse, the paper's)   or   E |Î − I_HR|  (l1),

with I_LR = field `model.input` (default `lowres`: the high-resolution crop downsampled by
`model.scale` with antialiased bicubic, `data.derive=lowres:SCALE`, set by default) and I_HR = field
`model.target` (default `x`). G = SRResNet (nn/superres.py): a 9x9 head, `n_blocks` residual blocks
(conv-BN-PReLU-conv-BN + skip) of `width` channels, a global skip, log2(scale) sub-pixel (PixelShuffle)
×2 upsampling steps (one ×3 step for scale 3) and a 9x9 tail. The loss is measured in G space ([−1, 1]
for images, the paper's scale; models/restoration/common.py), averaged over pixels.

Training on crops, applying at any size: G is fully convolutional, so a run trained on 96x96 crops
(`--data photos --data.size=96`) upscales whole images (`genlab superres RUN`, `genlab eval RUN` on
the held-out photos; docs/restoration.md). Its weights initialise `srgan` (model.init_from=RUN).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ...registry import register_model
from ..base import Batch, DataInfo, GenerativeModel, Phase
from .common import SuperResConfig, SuperResolution, data_defaults


@dataclass
class SRResNetConfig(SuperResConfig):
    """`--model.KEY` flags (scale, width, n_blocks, norm, padding, input, target: SuperResConfig)."""

    loss: str = "mse"  # mse (the paper's) | l1

    def __post_init__(self):
        super().__post_init__()
        if self.loss not in ("mse", "l1"):
            raise ValueError(f"model.loss={self.loss!r} is invalid; expected mse or l1")


@register_model("srresnet", config=SRResNetConfig, family="conditional",
                help="super-resolution x2/x3/x4/x8: SRResNet (residual blocks, PixelShuffle) on MSE or L1 "
                     "(Ledig et al. 2017); input lowres = bicubic-downsampled x",
                tiny={"width": 4, "n_blocks": 1, "scale": 2},
                test_data="photos", test_data_options={"size": 16, "n": 64, "derive": "lowres:2"})
class SRResNet(SuperResolution, GenerativeModel):
    train_defaults = {"lr": 1e-4, "betas": (0.9, 0.999), "batch_size": 16, "steps": 20000}

    @classmethod
    def defaults_for(cls, config: SRResNetConfig) -> dict[str, dict]:
        return {"train": dict(cls.train_defaults), "data": data_defaults(config)}

    def __init__(self, config: SRResNetConfig, data: DataInfo):
        GenerativeModel.__init__(self, config, DataInfo.of(data.fields, primary=config.target))
        self.generator = self.build_generator("srresnet", config, data)

    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.generator}

    def phases(self, step: int) -> list[Phase]:
        return [Phase("model", self.loss)]

    def loss(self, batch: Batch) -> dict:
        """L = mean (G(lr) − hr)² (mse) or mean |G(lr) − hr| (l1), in G space."""
        _, err = self.pixel_error(batch)
        mse = err.pow(2).mean()
        loss = mse if self.config.loss == "mse" else err.abs().mean()
        return {"loss": loss, "mse": mse.detach()}
