"""Evaluation: likelihood bounds and bits/dim (likelihood.py), reconstruction and probes;
sample quality (functional.py metrics, features.py + extractors/ feature extractors, quality.py)."""
from . import likelihood  # noqa: F401
from . import extractors  # noqa: F401  (registers fmnist-classifier, digits-classifier, inception)
