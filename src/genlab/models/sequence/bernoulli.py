"""`bernoulli`: the independent baseline — every step drawn from one learned marginal, ignoring the past:

    rolls:  p(v_t) = Π_k σ(b_k)^v_tk (1 − σ(b_k))^(1 − v_tk)    (one Bernoulli per key: its frequency)
    tokens: p(x_t = k) = softmax(b)_k                            (unigram)
    series: p(x_t) = Π_d N(x_td; μ_d, σ_d²)

Trained by the same masked NLL as the other sequence models; its maximum-likelihood solution is the
training split's per-key (per-token, per-channel) frequency. The floor every model of the table must beat.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...registry import register_model
from ..base import DataInfo
from .common import SequenceModel


@dataclass
class BernoulliConfig:
    init: float = 0.0  # initial logits b (0: probability 1/2 per key)


class Marginal(nn.Module):
    """The marginal's parameters b (P,), broadcast to every step."""

    def __init__(self, params: int, init: float):
        super().__init__()
        self.bias = nn.Parameter(torch.full((params,), float(init)))

    def forward(self, f: Tensor) -> Tensor:
        return self.bias.expand(*f.shape[:2], -1)  # (B, T, P)


@register_model("bernoulli", config=BernoulliConfig, family="likelihood",
                help="independent baseline: per-key Bernoulli marginal (rolls), unigram (tokens), Gaussian "
                     "(series); exact NLL per frame/token",
                tiny={}, test_data="chorales", test_data_options={"n": 8, "length": 16})
class Bernoulli(SequenceModel):
    def __init__(self, config: BernoulliConfig, data: DataInfo):
        super().__init__(config, data, "bernoulli")
        self.embed = None
        self.output = Marginal(self.head.params, config.init)

    def networks(self) -> dict[str, nn.Module]:
        return {"output": self.output}

    def features(self, h: Tensor) -> Tensor:
        return torch.zeros(h.shape[0], h.shape[1], 1, device=h.device)  # only the (B, T) shape is used

    def params(self, x: Tensor) -> Tensor:
        return self.output(self.features(x))

    def new_state(self, n: int, max_len: int):
        return {"n": n}

    def step_features(self, h, state) -> Tensor:
        return torch.zeros(state["n"], 1, 1, device=self.device)
