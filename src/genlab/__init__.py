"""genlab: train, evaluate, explore and apply deep generative models with one trainer.

The public API (docs/api.md), imported on first use so that `import genlab` stays instant:

    load(path) -> model              a run directory or a saved model, ready to sample
    save(model, path)                config.yaml + data_info.json + model.safetensors
    build(name, data, **keys)        any registered model, from its config
    run_config(name, model=, ...)    the resolved, validated run configuration
    fit(model, data, steps=...)      the one Trainer, on a genlab dataset, a tensor or a torch Dataset
    sample(model, n, seed=)          the samples `genlab sample` draws
    load_dataset("digits:test")      a registered dataset split
    Trainer, metrics (FID, KID, ...), GenerativeModel, Batch, DataInfo, FieldSpec, GenlabError
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import GenlabError

__version__ = "0.1.0"

# name -> module that defines it (imported, with torch and the registries, on first access)
_LAZY = {
    "load": "api", "save": "api", "build": "api", "run_config": "api", "fit": "api", "sample": "api",
    "as_dataset": "api", "info": "api", "ModelInfo": "api", "load_dataset": "api",
    "load_run": "runs", "Trainer": "training", "GenerativeModel": "models.base", "Phase": "models.base",
    "Batch": "fields", "DataInfo": "fields", "FieldSpec": "fields", "Normalizer": "fields",
    "RunConfig": "config", "TrainConfig": "config", "DataConfig": "config",
    "metrics": None,
}

__all__ = ["GenlabError", "__version__", *_LAZY]

if TYPE_CHECKING:  # what type checkers and IDEs see (genlab ships py.typed)
    from . import metrics
    from .api import ModelInfo, as_dataset, build, fit, info, load, load_dataset, run_config, sample, save
    from .config import DataConfig, RunConfig, TrainConfig
    from .fields import Batch, DataInfo, FieldSpec, Normalizer
    from .models.base import GenerativeModel, Phase
    from .runs import load_run
    from .training import Trainer


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'genlab' has no attribute {name!r}")
    import importlib

    from . import components  # noqa: F401  (fill the registries: every model, dataset, loss, extractor)

    module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
    value = module if _LAZY[name] is None else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
