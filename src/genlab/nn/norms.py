"""Normalisation layers by name: `make_norm("instance", 64)`.

Instance norm is affine with no running statistics (the pix2pix / CycleGAN choice: each image is
normalised by its own statistics in train and eval mode alike). A conv followed by any norm but "none"
needs no bias (the norm's shift β replaces it); `conv_bias(kind)` says which.
"""
from __future__ import annotations

import math

from torch import nn


def _group_norm(channels: int) -> nn.Module:
    # gcd(32, C) groups: 32 when C is a multiple of 32 (Wu & He 2018), fewer for tiny test widths
    return nn.GroupNorm(math.gcd(32, channels), channels)


NORMS = {
    "batch": lambda channels: nn.BatchNorm2d(channels),
    "instance": lambda channels: nn.InstanceNorm2d(channels, affine=True, track_running_stats=False),
    "group": _group_norm,
    "none": lambda channels: nn.Identity(),
}


def check_norm(kind: str) -> str:
    """Return `kind` if it names a norm, else raise ValueError listing the valid names."""
    if kind not in NORMS:
        raise ValueError(f"norm={kind!r} is invalid; expected one of {sorted(NORMS)}")
    return kind


def make_norm(kind: str, channels: int) -> nn.Module:
    """A 2-D norm over (B, C, H, W) maps: 'batch', 'instance', 'group' or 'none' (identity)."""
    return NORMS[check_norm(kind)](channels)


def conv_bias(kind: str) -> bool:
    """Whether a conv followed by norm `kind` should carry a bias (only when there is no norm)."""
    return check_norm(kind) == "none"
