"""`wavenet`: dilated causal convolutions with gated units (van den Oord et al. 2016) over sequences —
μ-law 8-bit audio (256-way softmax per sample, the paper's setting), piano rolls (Bernoulli per key),
event tokens or series.

    h_t = embed(x_{t−1});   z = tanh(W_f * x) ⊙ σ(W_g * x) per layer, dilations 1, 2, …, 2^(L−1) (× stacks),
    residual x + R z, skip S z;   f = ReLU(1×1(ReLU(Σ skips)));   p(x_t | x_<t) = head(W f_t)

(nn/dilated.py). Receptive field 1 + stacks·(2^L − 1) steps of the shifted input. Loss: mean over valid
steps of −log p(x_t | x_<t). Generation: `sampler=cached` keeps one queue of past inputs per layer (Fast
WaveNet, Paine et al. 2016): one matrix product per layer per step, the same samples as `sampler=naive`
(the full convolution over the prefix at every step; tests/test_sequences.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ...nn.dilated import WaveNet as WaveNetStack
from ...registry import register_model
from ..base import DataInfo
from .common import SequenceModel, raw


@dataclass
class WaveNetConfig:
    channels: int = 64  # residual channels C
    skip: int = 128  # skip channels S
    layers: int = 8  # dilated layers per stack (dilations 1 .. 2^(layers−1))
    stacks: int = 2  # repeats of the dilation cycle
    sampler: str = "cached"  # cached (per-layer queues) | naive (full convolution over the prefix per step)

    def __post_init__(self):
        for key in ("channels", "skip", "layers", "stacks"):
            if getattr(self, key) < 1:
                raise ValueError(f"model.{key}={getattr(self, key)} is invalid; expected >= 1")
        if self.sampler not in ("cached", "naive"):
            raise ValueError(f"model.sampler={self.sampler!r} is invalid; expected cached or naive")


@register_model("wavenet", config=WaveNetConfig, family="likelihood",
                help="WaveNet: dilated causal convs, gated tanh*sigmoid units, residual+skip, fast queue "
                     "generation; mu-law audio (chorale-audio), piano rolls, tokens or series: exact NLL",
                tiny={"channels": 8, "skip": 8, "layers": 3, "stacks": 1},
                test_data="chorales", test_data_options={"n": 8, "length": 16})
class WaveNet(SequenceModel):
    def __init__(self, config: WaveNetConfig, data: DataInfo):
        super().__init__(config, data, "wavenet")
        self.embed = self.head.embedding(config.channels)
        self.backbone = WaveNetStack(config.channels, config.channels, config.skip, config.layers, config.stacks)
        self.output = nn.Linear(config.skip, self.head.params)

    @property
    def receptive_field(self) -> int:
        return raw(self.backbone).receptive_field

    def features(self, h: Tensor) -> Tensor:
        return self.backbone(h)

    def new_state(self, n: int, max_len: int) -> dict:
        return raw(self.backbone).new_state(n, device=self.device)

    def step_features(self, h: Tensor, state: dict) -> Tensor:
        return raw(self.backbone).step(h, state)

