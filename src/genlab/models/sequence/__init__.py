"""Sequence models (the autoregressive family on sequences): transformer, wavenet, lstm and the independent
baseline; their shared heads, masked NLL and generation are in common.py and heads.py."""
from . import bernoulli, lstm, transformer, wavenet  # noqa: F401
