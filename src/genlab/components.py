"""Import every module that registers a component, so the registries are complete.

Explicit imports (no plugin discovery): a newcomer sees here what exists.
"""
from . import data  # noqa: F401  (datasets)
from . import losses  # noqa: F401  (adversarial losses)
from . import metrics  # noqa: F401  (feature extractors)
from . import models  # noqa: F401  (all model families)
from .training import optim  # noqa: F401  (optimisers)
