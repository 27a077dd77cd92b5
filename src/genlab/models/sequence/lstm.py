"""`lstm`: the recurrent baseline (Hochreiter & Schmidhuber 1997) over sequences:

    h_t = embed(x_{t−1});   (f_t, c_t) = LSTM(h_t, (f_{t−1}, c_{t−1}))  (stacked layers);
    p(x_t | x_<t) = head(W f_t)     Bernoulli per key (rolls), softmax (tokens), Gaussian (series)

Loss: mean over valid steps of −log p(x_t | x_<t) (models/sequence/common.py). Generation carries (h, c)
from step to step (`cached`), or reruns the LSTM over the prefix (`naive`, the same samples).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ...registry import register_model
from ..base import DataInfo
from .common import SequenceModel, raw


@dataclass
class LSTMConfig:
    width: int = 128  # input embedding width
    hidden: int = 256  # LSTM units per layer
    layers: int = 2  # stacked LSTM layers
    dropout: float = 0.0  # between LSTM layers (training only)

    def __post_init__(self):
        for key in ("width", "hidden", "layers"):
            if getattr(self, key) < 1:
                raise ValueError(f"model.{key}={getattr(self, key)} is invalid; expected >= 1")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"model.dropout={self.dropout} is invalid; expected a value in [0, 1)")


@register_model("lstm", config=LSTMConfig, family="likelihood",
                help="LSTM baseline over piano rolls, event tokens, audio or series: exact NLL per step",
                tiny={"width": 8, "hidden": 8, "layers": 1},
                test_data="series", test_data_options={"length": 12})
class LSTM(SequenceModel):
    def __init__(self, config: LSTMConfig, data: DataInfo):
        super().__init__(config, data, "lstm")
        self.embed = self.head.embedding(config.width)
        self.backbone = nn.LSTM(config.width, config.hidden, config.layers, batch_first=True,
                                dropout=config.dropout if config.layers > 1 else 0.0)
        self.output = nn.Linear(config.hidden, self.head.params)

    def features(self, h: Tensor) -> Tensor:
        return self.backbone(h)[0]  # (B, T, hidden)

    def new_state(self, n: int, max_len: int) -> dict:
        return {"hc": None}

    def step_features(self, h: Tensor, state: dict) -> Tensor:
        f, state["hc"] = raw(self.backbone)(h, state["hc"])
        return f  # (B, 1, hidden)
