"""What a sequence model reads and predicts at each step, chosen by the data's field spec.

Step t's input is the previous step x_{t−1} (a learned start vector at t = 0), so the network's output at t
depends only on x_<t, and the model's exact log-likelihood of a sequence is

    log p(x) = Σ_t log p(x_t | x_<t)          (valid steps only; nats)

with one of three per-step distributions (the head):
- `BernoulliHead` — piano rolls (kind sequence, levels 2, D = 88 keys): the keys of a frame are independent
  given the past frames, p(v_t | v_<t) = Π_k σ(ℓ_tk)^v_tk (1 − σ(ℓ_tk))^(1 − v_tk) — the factorised
  frame-level conditional of the polyphonic-music NLL benchmarks (Boulanger-Lewandowski et al. 2012).
- `CategoricalHead` — tokens (event tokens, μ-law audio): p(x_t = k | x_<t) = softmax(ℓ_t)_k.
- `GaussianHead` — real series (kind sequence, no levels): p(x_t | x_<t) = Π_d N(x_td; μ_td, σ_td²) in the
  field's model space (standardised), a density: its NLL is in nats per step of standardised data.
Every random number of a draw comes from the caller's generator (uniforms, normals).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import GenlabError
from ...fields import FieldSpec
from ..base import rand, randn


class FrameEmbedding(nn.Module):
    """Frames (B, T, D) -> inputs (B, T, d): start vector, then Linear(x_{t−1})."""

    def __init__(self, frame_dim: int, dim: int):
        super().__init__()
        self.proj = nn.Linear(frame_dim, dim)
        self.start = nn.Parameter(torch.zeros(dim))

    def forward(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        start = self.start.view(1, 1, -1).expand(b, 1, -1).to(self.proj.weight.dtype)
        return torch.cat([start, self.proj(x[:, :-1].to(self.proj.weight.dtype))], 1)  # (B, T, d)

    def one(self, prev: Optional[Tensor], batch: int) -> Tensor:
        """The input of the next step: start (prev None) or Linear(prev (B, D)) -> (B, 1, d)."""
        if prev is None:
            return self.start.view(1, 1, -1).expand(batch, 1, -1)
        return self.proj(prev.to(self.proj.weight.dtype))[:, None]


class TokenEmbedding(nn.Module):
    """Tokens (B, T) -> inputs (B, T, d): an embedding of V + 1 rows, row V the start token."""

    def __init__(self, vocab: int, dim: int):
        super().__init__()
        self.vocab = vocab
        self.table = nn.Embedding(vocab + 1, dim)

    def forward(self, x: Tensor) -> Tensor:
        start = torch.full_like(x[:, :1], self.vocab)
        return self.table(torch.cat([start, x[:, :-1]], 1).long())  # (B, T, d)

    def one(self, prev: Optional[Tensor], batch: int) -> Tensor:
        idx = torch.full((batch,), self.vocab, dtype=torch.long, device=self.table.weight.device) \
            if prev is None else prev.long()
        return self.table(idx)[:, None]  # (B, 1, d)


class BernoulliHead:
    """D independent Bernoulli logits per step."""

    what = "frame"

    def __init__(self, dim: int):
        self.dim, self.params = dim, dim

    def embedding(self, width: int) -> nn.Module:
        return FrameEmbedding(self.dim, width)

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        """Σ_k log Bern(x_tk; σ(ℓ_tk)), (B, T) nats."""
        return -F.binary_cross_entropy_with_logits(params.float(), x.float(), reduction="none").sum(-1)

    def sample(self, params: Tensor, generator, temperature: float = 1.0) -> Tensor:
        p = torch.sigmoid(params.float() / temperature)  # (B, D)
        return (rand(p.shape, generator=generator, device=p.device) < p).float()

    def empty(self, n: int, steps: int, device) -> Tensor:
        return torch.zeros(n, steps, self.dim, device=device)


class CategoricalHead:
    """V logits per step."""

    what = "token"

    def __init__(self, vocab: int, what: str = "token"):
        self.vocab, self.params, self.what = vocab, vocab, what

    def embedding(self, width: int) -> nn.Module:
        return TokenEmbedding(self.vocab, width)

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        """log softmax(ℓ_t)[x_t], (B, T) nats."""
        logp = F.log_softmax(params.float(), dim=-1)
        return logp.gather(-1, x.long().clamp(0, self.vocab - 1).unsqueeze(-1)).squeeze(-1)

    def sample(self, params: Tensor, generator, temperature: float = 1.0) -> Tensor:
        """Inverse-CDF draw with one uniform per example: (B, V) logits -> (B,) long."""
        probs = torch.softmax(params.float() / temperature, dim=-1)
        cdf = probs.cumsum(-1)
        u = rand((len(params), 1), generator=generator, device=params.device)
        return (cdf < u * cdf[:, -1:]).sum(-1).clamp(max=self.vocab - 1)

    def empty(self, n: int, steps: int, device) -> Tensor:
        return torch.zeros(n, steps, dtype=torch.long, device=device)


class GaussianHead:
    """Mean and log standard deviation per channel and step (model space)."""

    what = "step"

    def __init__(self, dim: int):
        self.dim, self.params = dim, 2 * dim

    def embedding(self, width: int) -> nn.Module:
        return FrameEmbedding(self.dim, width)

    def _split(self, params: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_sigma = params.float().chunk(2, dim=-1)
        return mu, log_sigma.clamp(-7.0, 7.0)

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        """Σ_d log N(x_td; μ, σ²) = Σ_d −½((x − μ)/σ)² − log σ − ½ log 2π, (B, T) nats."""
        mu, log_sigma = self._split(params)
        z = (x.float() - mu) * torch.exp(-log_sigma)
        return (-0.5 * z.pow(2) - log_sigma - 0.5 * math.log(2 * math.pi)).sum(-1)

    def sample(self, params: Tensor, generator, temperature: float = 1.0) -> Tensor:
        mu, log_sigma = self._split(params)
        return mu + temperature * torch.exp(log_sigma) * randn(mu.shape, generator=generator, device=mu.device)

    def empty(self, n: int, steps: int, device) -> Tensor:
        return torch.zeros(n, steps, self.dim, device=device)


def head_for(spec: FieldSpec, model: str):
    """The head of a field: tokens -> categorical; a (T, D) sequence -> Bernoulli (levels 2) or Gaussian."""
    if spec.kind == "tokens" and spec.levels and len(spec.shape) == 1:
        return CategoricalHead(int(spec.levels), "sample" if spec.channels == ("mu-law",) else "token")
    if spec.kind == "sequence" and len(spec.shape) == 2:
        return BernoulliHead(spec.shape[1]) if spec.levels == 2 else GaussianHead(spec.shape[1])
    raise GenlabError(f"model {model} needs sequences (a piano roll, event tokens, audio or a series, e.g. --data "
                      f"chorales); got a {spec.kind} field of shape {spec.shape}")
