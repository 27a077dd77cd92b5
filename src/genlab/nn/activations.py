"""Output activations of image generators by name: 'tanh' for data in [-1, 1], 'sigmoid' for [0, 1],
'none' for unbounded fields (physical units, standardised data)."""
from __future__ import annotations

from torch import nn

OUTPUT_ACTIVATIONS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "none": nn.Identity}


def make_output_activation(kind: str) -> nn.Module:
    """The last layer of a generator: 'tanh', 'sigmoid' or 'none'."""
    if kind not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"out_activation={kind!r} is invalid; expected one of {sorted(OUTPUT_ACTIVATIONS)}")
    return OUTPUT_ACTIVATIONS[kind]()
