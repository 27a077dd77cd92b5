"""The public Python API: everything the CLI does, from Python (docs/api.md).

    import genlab
    model = genlab.load("runs/vae-digits-1")          # a run directory or a saved model
    x = genlab.sample(model, 16, seed=0)               # (16, C, H, W) in model space
    genlab.save(model, "my-vae")                       # config.yaml + data_info.json + model.safetensors

    data = genlab.load_dataset("digits")
    model = genlab.build("vae", data, model={"latent_dim": 8})
    genlab.fit(model, data, steps=200, batch_size=64)  # the one Trainer; also on a tensor or a Dataset

A saved model is a run directory without the training history, so `genlab.load`, `genlab sample`,
`genlab eval` and the rest read both (the save_pretrained / from_pretrained convention: weights as
safetensors beside the config that rebuilds the network). A model made by `build`, `load` or `fit`
remembers its run configuration and data facts (`genlab.info(model)`), which `save` writes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

import torch
import torch.utils.data
from torch import Tensor

from .config import RunConfig, resolve, to_dict
from .data import load_dataset
from .data.base import ArrayDataset, FieldDataset
from .errors import GenlabError
from .fields import DataInfo
from .models.base import GenerativeModel
from .registry import MODELS

__all__ = ["ModelInfo", "load", "save", "build", "run_config", "fit", "sample", "as_dataset", "info",
           "load_dataset"]

DataLike = Union[FieldDataset, Tensor, torch.utils.data.Dataset]
SAVED = "saved.json"  # what `save` adds to a run-directory layout: the step and weights it holds


@dataclass
class ModelInfo:
    """Where a model comes from: its registered name, the full run configuration, the data facts kept
    in data_info.json (class names, toy mode centres, coordinates), the training step of its weights,
    whether those are EMA weights, and the directory it was loaded from."""

    name: str
    config: RunConfig
    meta: dict = field(default_factory=dict)
    step: int = 0
    ema: bool = False
    source: Optional[Path] = None


def info(model: GenerativeModel) -> ModelInfo:
    """The ModelInfo of a model made by genlab.build / load / fit (derived from the model otherwise)."""
    found = getattr(model, "_genlab_info", None)
    if found is not None:
        return found
    name = _registered_name(model)
    return ModelInfo(name, resolve(name, [{"model": to_dict(model.config)}]))


def _attach(model: GenerativeModel, mi: ModelInfo) -> GenerativeModel:
    object.__setattr__(model, "_genlab_info", mi)  # plain attribute (not a submodule, not in state_dict)
    return model


def _registered_name(model: GenerativeModel) -> str:
    for e in MODELS.entries():
        if type(model) is e.obj:
            return e.name
    raise GenlabError(f"{type(model).__name__} is not a registered genlab model (genlab list models)")


# --- configurations and models -------------------------------------------------------------------
def run_config(name: str, *, model: Optional[dict] = None, train: Optional[dict] = None,
           data: Optional[dict] = None) -> RunConfig:
    """The resolved run configuration of model `name` (its defaults < the dicts given), validated as
    `genlab train` validates it: unknown keys and bad values are GenlabErrors naming the key."""
    return resolve(name, [{"model": _plain(model), "train": _plain(train), "data": _plain(data)}])


def _plain(section: Any) -> dict:
    if section is None:
        return {}
    if hasattr(section, "__dataclass_fields__"):
        return to_dict(section)
    return dict(section)


def build(name: Union[str, RunConfig], data: Union[DataLike, DataInfo], *, model: Optional[dict] = None,
          train: Optional[dict] = None, **model_keys: Any) -> GenerativeModel:
    """A new model (initial weights from train.seed) for `data`: a dataset, a tensor, a torch Dataset or a
    DataInfo. `name` is a registered model or a RunConfig (genlab.run_config); `model` / keyword arguments
    set model keys, e.g. build("vae", data, latent_dim=8); `train` sets train keys."""
    from .runs import build_model

    if isinstance(data, DataInfo):
        info_, meta, dname = data, {}, ""
    else:
        ds = as_dataset(data)
        info_, meta, dname = ds.info, dict(ds.meta), _dataset_name(ds)
    if isinstance(name, RunConfig):
        cfg = name
        if model or train or model_keys:
            cfg = resolve(cfg.model_name, [{s: to_dict(getattr(cfg, s)) for s in ("model", "train", "data")},
                                           {"model": {**_plain(model), **model_keys}, "train": _plain(train)}])
    else:
        cfg = resolve(name, [{"model": {**_plain(model), **model_keys}, "train": _plain(train),
                              "data": {"name": dname, "split": getattr(data, "split", "train") or "train"}
                              if dname else {}}])
    m = build_model(cfg, info_)
    return _attach(m, ModelInfo(cfg.model_name, cfg, meta))


def _dataset_name(ds: FieldDataset) -> str:
    from .registry import DATASETS

    return ds.name if ds.name in DATASETS else ""


# --- data ----------------------------------------------------------------------------------------
def as_dataset(data: DataLike, *, labels: Optional[Tensor] = None, name: str = "tensor") -> FieldDataset:
    """An in-memory genlab dataset from what a user has.

    - a FieldDataset (genlab.load_dataset): returned as it is;
    - a tensor (N, C, H, W) or (N, D): uint8 images are 8-bit data (model space [0, 1], 256 levels);
      floats are taken as model space (images in [0, 1]); optional `labels` (N,) integers;
    - a torch.utils.data.Dataset whose items are a tensor or (tensor, label): read once into memory.
    """
    if isinstance(data, FieldDataset) or hasattr(data, "batcher"):
        return data  # type: ignore[return-value]
    if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, Tensor):
        data, labels = _read(data)
    if not isinstance(data, Tensor):
        raise GenlabError(f"cannot train on a {type(data).__name__}; give a tensor, a torch Dataset or a "
                          "genlab dataset (genlab.load_dataset)")
    if data.dim() not in (2, 4):
        raise GenlabError(f"a tensor of data must be (N, C, H, W) images or (N, D) vectors, got {tuple(data.shape)}")
    n_classes = int(labels.max()) + 1 if labels is not None and len(labels) else 0
    if data.dtype == torch.uint8:
        return ArrayDataset(name, "train", data, labels, scale=1 / 255, levels=256, n_classes=n_classes)
    return ArrayDataset(name, "train", data.float(), labels, n_classes=n_classes)


def _read(ds: torch.utils.data.Dataset) -> tuple[Tensor, Optional[Tensor]]:
    xs, ys = [], []
    for i in range(len(ds)):  # type: ignore[arg-type]
        item = ds[i]
        if isinstance(item, (tuple, list)):
            xs.append(torch.as_tensor(item[0]))
            if len(item) > 1:
                ys.append(int(item[1]))
        else:
            xs.append(torch.as_tensor(item))
    if not xs:
        raise GenlabError("the dataset is empty")
    return torch.stack(xs), (torch.tensor(ys, dtype=torch.long) if len(ys) == len(xs) else None)


# --- training ------------------------------------------------------------------------------------
def fit(model: GenerativeModel, data: DataLike, *, run_dir: Union[str, Path, None] = None,
        callbacks: Iterable[Callable] = (), **train_keys: Any) -> GenerativeModel:
    """Train `model` on `data` with the one Trainer (the same code path as `genlab train`).

    train_keys: any train key (steps=500, batch_size=64, lr=2e-4, device="cpu", progress=False, ...),
    over the model's own training defaults. run_dir: a new directory that becomes a full run directory
    (config, checkpoints, metrics.jsonl, sample grids; `genlab.load` and every command read it); without
    it nothing is written. Returns the model, trained, in eval mode.
    """
    from .runs import write_run_files
    from .training import Trainer
    from .training import checkpoint as ckpt
    from .training.trainer import preflight

    ds = as_dataset(data)
    if tuple(ds.info.shape) != tuple(model.data.shape):
        raise GenlabError(f"the model was built for data of shape {tuple(model.data.shape)}, not "
                          f"{tuple(ds.info.shape)}; build it on these data (genlab.build(name, data))")
    mi = info(model)
    raw = {s: to_dict(getattr(mi.config, s)) for s in ("model", "train", "data")}
    cfg = resolve(mi.name, [raw, {"train": train_keys}])
    preflight(model, cfg.train, ds)
    out = None
    if run_dir is not None:
        out = ckpt.new_run_dir(Path(run_dir))
        write_run_files(out, cfg, ds.info, ds.meta)
    trainer = Trainer(model, cfg.train, ds, out, callbacks=tuple(callbacks))
    trainer.fit()
    model.eval()
    return _attach(model, replace(mi, config=cfg, meta={**mi.meta, **ds.meta}, step=trainer.step,
                                  ema=False, source=out))


# --- loading and saving --------------------------------------------------------------------------
def load(path: Union[str, Path], *, device: Union[str, torch.device] = "cpu", ema: bool = True) -> GenerativeModel:
    """A trained model, in eval mode, from a run directory (its final weights, or the latest checkpoint
    of an unfinished run; EMA weights where the run has them, unless ema=False) or a saved model."""
    from .runs import load_run

    r = load_run(path, device=device, use_ema=ema)
    step, used_ema = r.step, r.ema
    saved = Path(path) / SAVED
    if saved.is_file():
        facts = json.loads(saved.read_text())
        step, used_ema = int(facts.get("step", step)), bool(facts.get("ema", used_ema))
    return _attach(r.model, ModelInfo(r.config.model_name, r.config, dict(r.meta), step, used_ema, r.run_dir))


def save(model: GenerativeModel, path: Union[str, Path], *, force: bool = False) -> Path:
    """Write `model` to directory `path`: config.yaml (the run configuration that rebuilds it),
    data_info.json (field specs and data facts) and model.safetensors (its current weights). A
    non-empty `path` is refused unless force=True. Returns the directory."""
    from .runs import write_run_files
    from .training import checkpoint as ckpt

    out = Path(path)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise GenlabError(f"{str(out)!r} already exists; choose another path or pass force=True")
    out.mkdir(parents=True, exist_ok=True)
    mi = info(model)
    cfg = mi.config
    if to_dict(cfg.model) != to_dict(model.config):  # the model's own config wins
        cfg = resolve(mi.name, [{"model": to_dict(model.config), "train": to_dict(cfg.train),
                                 "data": to_dict(cfg.data)}])
    write_run_files(out, cfg, model.data, mi.meta)
    state = {}
    for k, v in model.state_dict().items():  # without the wrappers' prefixes (compile, DDP)
        for tag in (".module.", "._orig_mod."):
            k = k.replace(tag, ".")
        state[k] = v.detach().cpu().contiguous()
    for stale in ("ema.safetensors",):
        (out / stale).unlink(missing_ok=True)
    ckpt.atomic_save_safetensors(state, out / "model.safetensors")
    ckpt.atomic_write_text(out / SAVED, json.dumps({"step": mi.step, "ema": mi.ema, "saved_from":
                                                    str(mi.source) if mi.source else None}))
    return out


# --- using a model -------------------------------------------------------------------------------
@torch.no_grad()
def sample(model: GenerativeModel, n: int, *, seed: int = 0, label: Union[int, str, None] = None,
           cond: Optional[dict[str, Tensor]] = None, batch: int = 500) -> Tensor:
    """n samples (model space; images in [0, 1]) drawn in chunks of `batch` from one generator seeded
    with `seed`: the same samples as `genlab sample -n N --seed S` and `genlab eval`. label: a class
    name or index for class-conditional models (cond={"y": labels} for one label per sample)."""
    from .runs import class_index, draw

    if n < 1:
        raise GenlabError(f"n={n} is invalid; give a positive integer")
    if label is not None:
        if "y" not in model.sample_conditions:
            raise GenlabError(f"label= needs a class-conditional model; {type(model).__name__} is not")
        cond = {"y": torch.full((n,), class_index(label, model.data, option="label"), dtype=torch.long)}
    was = model.training
    model.eval()
    try:
        return draw(model, n, seed, model.device, batch=batch, cond=cond)
    finally:
        model.train(was)
