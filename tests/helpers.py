"""Small builders shared by tests: tiny models, tiny data, tiny trainers."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

import genlab.components  # noqa: F401
from genlab.config import RunConfig, resolve
from genlab.data import load_dataset
from genlab.registry import MODELS
from genlab.runs import build_model, write_run_files
from genlab.training import Trainer


def tiny_config(name: str, *, steps: int = 2, seed: int = 0, train: Optional[dict] = None,
                model: Optional[dict] = None, data: Optional[str] = None) -> RunConfig:
    meta = MODELS.entry(name).meta
    layers = [{"model": {**meta.get("tiny", {}), **(model or {})},
               "train": {"steps": steps, "batch_size": 16, "seed": seed, "progress": False,
                         "log_every": 1, "ckpt_every": 1000, **(train or {})},
               "data": {"name": data or meta.get("test_data", "digits"), "limit": 128,
                        **({} if data else meta.get("test_data_options", {}))}}]
    return resolve(name, layers)


def tiny_data(cfg: RunConfig):
    d = load_dataset(cfg.data.name, cfg.data.split, **cfg.data.options())
    return d.subset(cfg.data.limit) if cfg.data.limit else d


def tiny_trainer(name: str, run_dir: Optional[Path] = None, *, dataset=None, **kw) -> Trainer:
    """A Trainer for `name` with its tiny config, on its test data (or on `dataset`, a built dataset)."""
    cfg = tiny_config(name, **kw)
    data = dataset if dataset is not None else tiny_data(cfg)
    model = build_model(cfg, data.info)
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_run_files(run_dir, cfg, data.info, data.meta)
    return Trainer(model, cfg.train, data, run_dir)


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
