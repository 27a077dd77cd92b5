"""Registered feature extractors (each module registers itself in EXTRACTORS)."""
from . import classifier, inception  # noqa: F401
