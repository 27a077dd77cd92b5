"""Where exploration gets labels and features when a model cannot provide them itself: the registered
domain classifiers (`fmnist-classifier`, `digits-classifier` in genlab.registry.EXTRACTORS)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor

from ..errors import GenlabError
from ..registry import EXTRACTORS

# dataset name -> the classifier trained on it (used when --classifier/--features is 'auto')
DEFAULT_CLASSIFIER = {"fashion-mnist": "fmnist-classifier", "digits": "digits-classifier"}


@dataclass
class Classifier:
    """A registered extractor seen as two functions on (B, C, H, W) images in [0, 1]."""

    name: str
    features: Callable[[Tensor], Tensor]  # -> (B, F)
    probs: Optional[Callable[[Tensor], Tensor]]  # -> (B, K) softmax, None without a head
    protocol: dict


def default_classifier(dataset: str) -> Optional[str]:
    """The registered classifier for this dataset, or None if there is none (yet)."""
    name = DEFAULT_CLASSIFIER.get(dataset)
    return name if name and name in EXTRACTORS else None


def load_classifier(name: str, shape: tuple[int, ...], device: torch.device) -> Classifier:
    """Build a registered extractor (its weights are hash-checked by genlab.metrics.features)."""
    from ..metrics import features as F

    ext = F.build(name, device)
    ext.check_input(tuple(shape), "this run's images")

    def feats(x: Tensor) -> Tensor:
        return F.extract(ext, [x])[0].float()

    def probs(x: Tensor) -> Tensor:
        logits = F.extract(ext, [x])[1]
        if logits is None:
            raise GenlabError(f"extractor {name!r} has no classifier head; name a classifier extractor")
        return logits.float().softmax(1)

    return Classifier(name, feats, probs if ext.has_logits else None, ext.protocol())
