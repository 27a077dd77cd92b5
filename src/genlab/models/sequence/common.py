"""What every sequence model shares: the field it reads, its head, the masked exact NLL, generation.

Training objective (one phase, group `model`): the mean over the batch's valid steps of

    −log p(x_t | x_<t)      (nats per frame / token / sample / step; heads.py states each conditional)

where the valid steps are those with x_valid = 1 (padding after a piece's end is never scored). The model
is exact: `step_log_prob(x)` (B, T) gives every log p(x_t | x_<t), and metrics/sequence.py sums them.

Generation: step by step from the model's incremental state (`cached=True`: the Transformer's key/value
cache, WaveNet's queues, the LSTM's (h, c)) or by recomputing the whole prefix at every step
(`cached=False`); both draw the same random numbers in the same order, so they give the same sequence. A
prompt (B, P, ...) is read first and the model continues it; `max_context` (the Transformer's positions)
bounds prompt + continuation: beyond it is a one-line GenlabError. Event-token runs stop a sequence at its
first EOS (the rest is EOS).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ...data.music_io import EOS
from ...errors import GenlabError
from ..base import Batch, DataInfo, GenerativeModel, Panel, Phase
from .heads import head_for


def raw(module: nn.Module) -> nn.Module:
    """The module inside a DDP / torch.compile wrapper (their custom methods, e.g. `step`, live there)."""
    return getattr(module, "module", getattr(module, "_orig_mod", module))


class SequenceModel(GenerativeModel):
    """Mixin base of transformer, wavenet, lstm and the independent baseline.

    Subclasses build `self.embed` (head.embedding), a backbone and `self.output` (features -> head params)
    and implement `features(h)`, `new_state(n, max_len)` and `step_features(h_t, state)`."""

    requires = {"x": ("sequence", "tokens")}
    train_defaults = {"lr": 1e-3, "batch_size": 32, "grad_clip": 1.0}
    max_context: Optional[int] = None  # steps the model can attend to (None: unbounded)

    def __init__(self, config, data: DataInfo, name: str):
        super().__init__(config, data)
        spec = data.fields["x"]
        self.head = head_for(spec, name)
        self.length = spec.shape[0]
        self.eos = EOS if spec.kind == "tokens" and spec.channels == ("events",) else None
        self.valid_field = spec.valid

    def networks(self) -> dict[str, nn.Module]:
        return {k: getattr(self, k) for k in ("embed", "backbone", "output")}

    def phases(self, step: int) -> list[Phase]:
        return [Phase("model", self.loss)]

    # --- the backbone (subclasses) --------------------------------------------------------------
    def features(self, h: Tensor) -> Tensor:
        raise NotImplementedError

    def new_state(self, n: int, max_len: int):
        raise NotImplementedError

    def step_features(self, h: Tensor, state) -> Tensor:
        raise NotImplementedError

    # --- likelihood -------------------------------------------------------------------------------
    def params(self, x: Tensor) -> Tensor:
        """Head parameters (B, T, P) at every step from x_<t."""
        return self.output(self.features(self.embed(x)))

    def step_log_prob(self, x: Tensor) -> Tensor:
        """log p(x_t | x_<t) for every step, (B, T) nats (float32)."""
        return self.head.log_prob(self.params(x), x)

    def valid_of(self, batch: Batch) -> Tensor:
        v = batch.get(self.valid_field) if self.valid_field else None
        x = batch.x
        return v.float() if v is not None else torch.ones(x.shape[:2], device=x.device)

    def loss(self, batch: Batch) -> dict:
        """Mean over valid steps of −log p(x_t | x_<t) (nats per step)."""
        valid = self.valid_of(batch)
        nll = -(self.step_log_prob(batch.x) * valid).sum() / valid.sum().clamp(min=1.0)
        return {"loss": nll, f"nll_per_{self.head.what}": nll.detach()}

    # --- generation -------------------------------------------------------------------------------
    def check_length(self, total: int, prompt: int = 0) -> None:
        if self.max_context is not None and total > self.max_context:
            what = f"a prompt of {prompt} steps + {total - prompt} new steps" if prompt else f"{total} steps"
            raise GenlabError(f"{what} exceed{'s' if not prompt else ''} this model's context of {self.max_context} "
                              f"{self.head.what}s; use a shorter prompt (or fewer new steps), or train with a "
                              "longer model.context")

    @torch.no_grad()
    def generate_steps(self, n: int, steps: int, *, prompt: Optional[Tensor] = None,
                 generator: Optional[torch.Generator] = None, cached: Optional[bool] = None,
                 temperature: float = 1.0) -> Tensor:
        """n sequences of P + steps steps (P = prompt length): the prompt (n or 1, P, ...) then the model's
        continuation, in model space; cached=False recomputes the prefix at every step (same result);
        None = the model's `sampler` option (cached unless it says naive)."""
        if cached is None:
            cached = getattr(self.config, "sampler", "cached") == "cached"
        p = 0 if prompt is None else prompt.shape[1]
        total = p + steps
        self.check_length(total, p)
        dev = self.device
        out = self.head.empty(n, total, dev)
        if p:
            out[:, :p] = prompt.to(dev).expand(n, *prompt.shape[1:]).to(out.dtype)
        state = self.new_state(n, total) if cached else None
        embed = raw(self.embed) if self.embed is not None else None
        done = torch.zeros(n, dtype=torch.bool, device=dev)
        for t in range(total):
            if cached:
                h = embed.one(out[:, t - 1] if t else None, n) if embed is not None else None
                f = self.step_features(h, state)
            else:
                f = self.features(self.embed(out[:, :t + 1]) if embed is not None else out[:, :t + 1])[:, -1:]
            if t < p:
                continue
            x_t = self.head.sample(raw(self.output)(f)[:, 0].float(), generator, temperature)
            if self.eos is not None:
                x_t = torch.where(done, torch.full_like(x_t, self.eos), x_t)
                done |= x_t == self.eos
            out[:, t] = x_t
        return out

    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
        """n sequences of the data's length (model space: rolls 0/1, tokens as integers, series standardised)."""
        return self.generate_steps(n, self.length, generator=generator)

    def preview(self, batch: Optional[Batch], *, n: int, generator: Optional[torch.Generator] = None) -> list[Panel]:
        """At most 4 samples (a sequence takes one row of the picture)."""
        return [Panel("samples", self.sample(min(n, 4), generator=generator), "x")]
