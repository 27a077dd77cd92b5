"""Autoencoders: deterministic (ae), variational (vae) and conditional variational (cvae)."""
from . import ae, vae, cvae  # noqa: F401
