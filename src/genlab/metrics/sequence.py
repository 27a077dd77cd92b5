"""Exact negative log-likelihood of sequence models on a split, per frame / token / sample / step.

For every example (a piece, or a chunk of `data.length` steps of a longer piece) the model gives
log p(x_t | x_<t) at each step (models/sequence/heads.py states the conditional of each data kind); over
the split's valid steps (x_valid = 1)

    NLL per step = −(1 / Σ_n T_n) Σ_n Σ_{t < T_n} log p(x_nt | x_n,<t)      (nats; bits = nats / ln 2)

i.e. the average over all frames of the split (frame-weighted, as the polyphonic benchmarks report it),
plus the mean per example. Piano rolls: per frame, the 88 keys factorised given the past frames; event
tokens and μ-law audio: per token / per sample (a discrete probability); real series: a density of the
standardised values (nats per step; not comparable with the discrete numbers). Computed in float64 sums
of float32 step log-probabilities, with dropout off (eval mode).
"""
from __future__ import annotations

import math

import torch

from ..errors import GenlabError

LN2 = math.log(2.0)


@torch.no_grad()
def evaluate_sequence(model, data, *, n: int = 0, batch: int = 64, seed: int = 0,
                      device: torch.device | str = "cpu", progress=None) -> dict:
    """The split's NLL per step (and per example) with its protocol; `n` > 0: a fixed subset of examples."""
    if not hasattr(model, "step_log_prob"):
        raise GenlabError(f"model {type(model).__name__} gives no per-step likelihood of sequences")
    sub = data.subset(n, seed=seed) if n else data
    spec = sub.info.fields["x"]
    total, steps = 0.0, 0.0
    if progress is not None:
        progress.total = progress.done + len(sub)
    for i in range(0, len(sub), batch):
        b = sub.batch(slice(i, i + batch), device)
        lp = model.step_log_prob(b.x).double()  # (B, T)
        valid = b.get(spec.valid).double() if spec.valid and spec.valid in b else torch.ones_like(lp)
        total += float((lp * valid).sum())
        steps += float(valid.sum())
        if progress is not None:
            progress.update(len(b))
    what = model.head.what
    nats = -total / max(steps, 1.0)
    seq = sub.meta.get("sequence") or {}
    out = {f"nll_per_{what}_nats": nats, f"nll_per_{what}_bits": nats / LN2,
           "nll_per_example_nats": -total / max(len(sub), 1), f"{what}s": int(steps), "examples": len(sub)}
    conditional = {"frame": "Π over 88 keys of Bernoulli(v_tk | v_<t) (keys independent given the past frames)",
                   "token": "softmax over the event vocabulary given the previous tokens",
                   "sample": "256-way softmax over mu-law codes given the previous samples",
                   "step": "diagonal Gaussian density of the standardised values given the previous steps"}[what]
    out["protocol"] = {"split": f"{data.name}:{data.split}", "n": len(sub), "seed": seed if n else None,
                       "representation": seq.get("repr"), "frame_quarters": seq.get("frame"),
                       "example_length": int(spec.shape[0]),
                       "conditional": conditional, "average": f"over all valid {what}s of the split",
                       "exact": True}
    return out
