"""Autoencoders: deterministic (ae) and variational (vae)."""
from . import ae, vae  # noqa: F401
