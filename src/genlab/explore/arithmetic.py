"""Attribute vectors from labels (Radford et al. 2016, DCGAN §6.3; the lecture's vector arithmetic).

    v(A, B) = mean{z : label A} − mean{z : label B}
    z' = z_C + s · v(A, B)            e.g. sneaker + (boot − sandal) for s = 1

Averaging several latents per concept is what makes the arithmetic stable (single samples are noisy).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ..errors import GenlabError


def resolve_label(name: str, classes: Sequence[str], *, option: str = "label") -> int:
    """A class index from its name (case-insensitive, spaces or '-'/'_' alike) or its number.

    Unknown names raise a one-line GenlabError listing the valid labels.
    """
    norm = lambda s: str(s).strip().lower().replace("_", " ").replace("-", " ")  # noqa: E731
    wanted = norm(name)
    for i, c in enumerate(classes):
        if norm(c) == wanted:
            return i
    if wanted.isdigit() and int(wanted) < len(classes):
        return int(wanted)
    # a unique prefix or word match ("boot" -> "Ankle boot", "t-shirt" -> "T-shirt/top")
    hits = [i for i, c in enumerate(classes)
            if wanted and (norm(c).startswith(wanted) or wanted in norm(c).replace("/", " ").split())]
    if len(hits) == 1:
        return hits[0]
    valid = ", ".join(f"{c!r}" for c in classes)
    why = "is ambiguous" if hits else "does not exist"
    raise GenlabError(f"{option} {name!r} {why}; valid labels: {valid}")


def class_means(z: Tensor, y: Tensor, labels: Sequence[int]) -> Tensor:
    """Mean latent per requested label. z: (N, D), y: (N,) -> (len(labels), D)."""
    out = []
    for c in labels:
        sel = z[y == c]
        if len(sel) == 0:
            raise GenlabError(f"no examples with label {c} to average; use more examples or another label")
        out.append(sel.double().mean(0))
    return torch.stack(out).to(z.dtype)  # (K, D)


def attribute_vector(z: Tensor, y: Tensor, plus: int, minus: int) -> Tensor:
    """v = mean(z | y = plus) − mean(z | y = minus), (D,)."""
    m = class_means(z, y, [plus, minus])
    return m[0] - m[1]


def apply_vector(z: Tensor, v: Tensor, scales: Sequence[float]) -> Tensor:
    """z + s v for each scale s. z: (N, D), v: (D,) -> (S, N, D)."""
    s = torch.as_tensor(list(scales), dtype=z.dtype, device=z.device).view(-1, 1, 1)  # (S, 1, 1)
    return z.unsqueeze(0) + s * v.view(1, 1, -1)
