"""Evaluation: likelihood bounds and bits/dim (likelihood.py), reconstruction and probes;
sample quality (functional.py metrics, features.py + extractors/ feature extractors, quality.py), and the
same metrics as streaming objects with update/compute/reset (streaming.py: FID, KID, PrecisionRecall,
DensityCoverage, InceptionScore)."""
from . import likelihood  # noqa: F401
from . import extractors  # noqa: F401  (registers fmnist-classifier, digits-classifier, inception)
from .streaming import FID, KID, DensityCoverage, InceptionScore, PrecisionRecall  # noqa: F401
