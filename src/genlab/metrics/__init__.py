"""Evaluation: likelihood bounds and bits/dim (likelihood.py), reconstruction and probes."""
from . import likelihood  # noqa: F401
