"""Nearest neighbours: are samples new, or copies of training images?

d(q, x) = ‖q − x‖₂ in pixel space (flattened images) or in a feature space (encoder or classifier
features). The memorisation check compares the distance from generated samples to their nearest
training image with the same distance for held-out real images:

    ratio = median_q∈samples min_x∈train d(q, x) / median_q∈held-out min_x∈train d(q, x)

ratio ≪ 1 means samples sit closer to training images than unseen real images do (copying); ≈ 1 or
above means they are as novel as new real data.
"""
from __future__ import annotations

import torch
from torch import Tensor


def nearest(query: Tensor, bank: Tensor, k: int = 1, chunk: int = 8192) -> tuple[Tensor, Tensor]:
    """k nearest rows of `bank` for each row of `query` (Euclidean).

    query: (Q, F), bank: (N, F) (flattened if they have more dims) -> (dist (Q, k), index (Q, k)),
    closest first. Uses ‖q‖² + ‖x‖² − 2 q·x in float64, in chunks of the bank to bound memory.
    """
    q = query.reshape(len(query), -1).double()  # (Q, F)
    b = bank.reshape(len(bank), -1)  # (N, F)
    k = min(k, len(b))
    qn = q.pow(2).sum(1, keepdim=True)  # (Q, 1)
    best_d = torch.full((len(q), 0), float("inf"), dtype=torch.float64)
    best_i = torch.zeros((len(q), 0), dtype=torch.long)
    for start in range(0, len(b), chunk):
        part = b[start:start + chunk].double()
        d2 = qn + part.pow(2).sum(1).unsqueeze(0) - 2 * q @ part.T  # (Q, n)
        d = torch.cat([best_d, d2.clamp_min(0)], 1)
        i = torch.cat([best_i, torch.arange(start, start + len(part)).expand(len(q), -1)], 1)
        best_d, pos = d.topk(min(k, d.shape[1]), dim=1, largest=False)
        best_i = i.gather(1, pos)
    return best_d.sqrt(), best_i


def nn_distance_ratio(samples: Tensor, held_out: Tensor, bank: Tensor) -> dict[str, float]:
    """Median nearest-training distance of samples, of held-out real data, and their ratio."""
    ds = nearest(samples, bank, 1)[0][:, 0]
    dh = nearest(held_out, bank, 1)[0][:, 0]
    ms, mh = float(ds.median()), float(dh.median())
    return {"samples_median": ms, "held_out_median": mh, "ratio": ms / mh if mh > 0 else float("inf")}
