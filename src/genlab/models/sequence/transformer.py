"""`transformer`: a causal Transformer decoder over sequences (GPT-style; Music Transformer's setting with
absolute positions, Huang et al. 2018; the lecture's MuseNet: next-token prediction over MIDI events).

    h_t = embed(x_{t−1}) + pos_t          (x_{−1} = start)
    f   = LN(Block_L(… Block_1(h)))       pre-LN blocks: causal multi-head attention + MLP (nn/attention.py)
    p(x_t | x_<t) = head(W f_t)           Bernoulli per key (rolls), softmax (tokens), Gaussian (series)

Loss: mean over valid steps of −log p(x_t | x_<t) (models/sequence/common.py). Positions: learned (the
default) or sinusoidal; `context` positions (0 = the data's length) bound prompt + generation. Sampling
uses the key/value cache (`sampler=cached`, the default) or recomputes the prefix at every step
(`sampler=naive`); both give the same tokens (tests/test_sequences.py), the cache ≥ 10× faster at 512 steps
(benchmarks/kv_cache.py). bf16: the trainer's autocast runs the attention and MLPs in bf16 where supported
(train.precision=auto|bf16); heads and losses are computed in float32.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ...nn.attention import CausalTransformer, KVCache
from ...registry import register_model
from ..base import DataInfo
from .common import SequenceModel, raw


@dataclass
class TransformerConfig:
    width: int = 128  # model width d
    heads: int = 4  # attention heads (d divisible by heads)
    layers: int = 4  # pre-LN blocks
    context: int = 0  # positions (0 = the data's sequence length)
    positions: str = "learned"  # position encoding: learned | sinusoidal (fixed)
    dropout: float = 0.1  # dropout on attention weights, residual branches and inputs (training only)
    sampler: str = "cached"  # cached (key/value cache) | naive (recompute the prefix at every step)

    def __post_init__(self):
        if self.positions not in ("learned", "sinusoidal"):
            raise ValueError(f"model.positions={self.positions!r} is invalid; expected learned or sinusoidal")
        if self.sampler not in ("cached", "naive"):
            raise ValueError(f"model.sampler={self.sampler!r} is invalid; expected cached or naive")
        for key in ("width", "heads", "layers"):
            if getattr(self, key) < 1:
                raise ValueError(f"model.{key}={getattr(self, key)} is invalid; expected >= 1")
        if self.width % self.heads:
            raise ValueError(f"model.width={self.width} is not divisible by model.heads={self.heads}")
        if self.context < 0 or not 0 <= self.dropout < 1:
            raise ValueError("model.context must be >= 0 and model.dropout in [0, 1)")


@register_model("transformer", config=TransformerConfig, family="likelihood",
                help="causal Transformer decoder (pre-LN, learned/sinusoidal positions, key/value-cache sampling) "
                     "on piano rolls, event tokens, mu-law audio or series: exact NLL per frame/token",
                tiny={"width": 16, "heads": 2, "layers": 1, "dropout": 0.0},
                test_data="chorales", test_data_options={"n": 8, "length": 24, "repr": "tokens"})
class Transformer(SequenceModel):
    def __init__(self, config: TransformerConfig, data: DataInfo):
        super().__init__(config, data, "transformer")
        self.max_context = config.context or self.length
        self.embed = self.head.embedding(config.width)
        self.backbone = CausalTransformer(config.width, config.heads, config.layers, self.max_context,
                                          positions=config.positions, dropout=config.dropout)
        self.output = nn.Linear(config.width, self.head.params)

    def features(self, h: Tensor) -> Tensor:
        return self.backbone(h)

    def new_state(self, n: int, max_len: int) -> KVCache:
        return raw(self.backbone).new_cache(n, max_len, device=self.device)

    def step_features(self, h: Tensor, state: KVCache) -> Tensor:
        return raw(self.backbone).step(h, state)

