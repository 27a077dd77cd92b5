"""Likelihood evaluation and the one bits/dim converter.

Conventions (stated with every reported number):
- 'discrete': the model gives the exact probability of the quantised data values (e.g. a discretised
  logistic decoder, PixelCNN's softmax). bits/dim = NLL / (D ln 2).
- 'continuous': the model gives a density on data scaled to [0, 1], evaluated on uniformly dequantised
  data y = (k + u) / L, u ~ U[0, 1)^D, for L levels. Then −log P(k) ≤ E_u[−log p(y)] + D ln L, so
  bits/dim = (NLL + D ln L) / (D ln 2), an upper bound on the discrete model's bits/dim. Any further
  preprocessing (e.g. a logit transform) must be inside the model's density, with its log-Jacobian.
- 'bernoulli': binary cross-entropy against gray levels; not a likelihood of 8-bit data, so no
  bits/dim is reported for it.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

LN2 = math.log(2.0)


def bits_per_dim(nll_nats: float, dims: int, convention: str, levels: Optional[int] = None) -> Optional[float]:
    """Convert a per-example NLL in nats to bits per dimension under `convention` (see module doc)."""
    if convention == "discrete":
        return nll_nats / (dims * LN2)
    if convention == "continuous":
        if levels is None:
            return nll_nats / (dims * LN2)  # truly continuous data: differential bits/dim
        return (nll_nats + dims * math.log(levels)) / (dims * LN2)
    if convention == "bernoulli":
        return None
    raise ValueError(f"unknown likelihood convention {convention!r}")


def dequantize(x: Tensor, levels: int, generator: Optional[torch.Generator]) -> Tensor:
    """k/(L−1) -> (k + u)/L with u ~ U[0, 1): uniform dequantisation into [0, 1)."""
    k = torch.round(x * (levels - 1))
    u = torch.rand(x.shape, generator=generator, device=x.device)
    return (k + u) / levels


def describe(convention: str, levels: Optional[int]) -> str:
    if convention == "discrete":
        return f"exact probability of the {levels}-level data; bits/dim = NLL/(D ln 2)"
    if convention == "continuous":
        if levels:
            return (f"density on [0,1]-scaled data with uniform dequantisation (k+u)/{levels}; "
                    f"bits/dim = (NLL + D ln {levels})/(D ln 2)")
        return "differential density of continuous data; bits/dim = NLL/(D ln 2)"
    return "Bernoulli cross-entropy on gray levels (not a likelihood of quantised data; no bits/dim)"


@torch.no_grad()
def evaluate(model, data, *, n: int = 0, k: int = 100, batch: int = 250, seed: int = 0,
             device: torch.device | str = "cpu", progress=None) -> dict:
    """Test metrics by capability: reconstruction error, ELBO (if the model has one), NLL bound.
    progress: a `genlab.progress.Progress` advanced per example (optional).

    Returns a flat dict plus a 'protocol' entry describing how the numbers were computed.
    """
    caps = model.capabilities()
    sub = data.subset(n, seed=seed) if n else data
    g = torch.Generator(device).manual_seed(seed)
    conv = model.nll_convention
    levels = data.levels
    sums = {"rec_mse": 0.0, "elbo": 0.0, "nll": 0.0}
    seen = 0
    if progress is not None:
        progress.total = progress.done + len(sub)
    for x, _ in sub.batches(batch, device):
        seen += len(x)
        if "reconstruct" in caps:
            sums["rec_mse"] += (model.reconstruct(x).float() - x).pow(2).flatten(1).mean(1).sum().item()
        xin = dequantize(x, levels, g) if conv == "continuous" and levels else x
        if "elbo" in caps:
            sums["elbo"] += model.elbo(xin, generator=g).sum().item()
        if "nll" in caps:
            sums["nll"] += model.nll(xin, generator=g, k=k).sum().item() if "k" in model.nll_options \
                else model.nll(xin, generator=g).sum().item()
        if progress is not None:
            progress.update(len(x))
    dims = data.info.dims
    out: dict = {}
    if "reconstruct" in caps:
        out["test_rec_mse_per_dim"] = sums["rec_mse"] / seen
    if "elbo" in caps:
        elbo = sums["elbo"] / seen
        out["test_elbo_nats"] = elbo
        bpd = bits_per_dim(-elbo, dims, conv, levels)
        if bpd is not None:
            out["test_elbo_bpd"] = bpd
    if "nll" in caps:
        nll = sums["nll"] / seen
        key = f"test_nll_iwae{k}" if "k" in model.nll_options else "test_nll"
        out[f"{key}_nats"] = nll
        bpd = bits_per_dim(nll, dims, conv, levels)
        if bpd is not None:
            out[f"{key}_bpd"] = bpd
    out["protocol"] = {"split": f"{data.name}:{data.split}", "n": seen, "seed": seed,
                       "importance_samples": k if "nll" in caps and "k" in model.nll_options else None,
                       "likelihood_convention": describe(conv, levels), "dims": dims}
    return out

