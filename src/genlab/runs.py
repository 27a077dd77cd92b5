"""Build models from configs and load trained runs for inference (sample, eval, explore, probe)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from .config import RunConfig, resolve
from .errors import GenlabError
from .models.base import DataInfo, GenerativeModel
from .registry import MODELS
from .training import checkpoint as ckpt
from .training.trainer import check_group_lr


def build_model(cfg: RunConfig, info: DataInfo) -> GenerativeModel:
    """Instantiate the model with initial weights drawn from `cfg.train.seed`, leaving the global
    RNG state as it was (the library never seeds global state)."""
    cls = MODELS[cfg.model_name]
    cls.check_data(cfg.model, info, model_name=cfg.model_name)  # a missing field: refused before any file
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.train.seed)
        try:
            model = cls(cfg.model, info)
            model.check_train(cfg.train)
        except ValueError as e:
            raise GenlabError(str(e)) from None
    check_group_lr(cfg.train.group_lr, model.param_groups())  # before any run directory is written
    return model


# dataset facts kept in data_info.json (for sampling, evaluation and writing outputs without the data)
META_KEYS = ("classes", "offset", "range", "centres", "std", "coords", "source", "variable", "long_name",
             "observed_fraction", "streams", "units", "split_rule", "region", "simulation",
             "sequence", "pieces", "context")


def write_run_files(run_dir: Path, cfg: RunConfig, info: DataInfo, data_meta: dict) -> None:
    ckpt.atomic_write_text(run_dir / "config.yaml", cfg.dump())
    ckpt.atomic_write_text(run_dir / "data_info.json", json.dumps(
        {"shape": list(info.shape), "levels": info.levels, "n_classes": info.n_classes,
         **{k: data_meta.get(k) for k in META_KEYS},
         **info.to_dict()}, default=_plain))


def _plain(v):
    """JSON fallback for NumPy scalars/arrays in dataset meta."""
    if hasattr(v, "tolist"):
        return v.tolist()
    return str(v)


def read_config(run_dir: Path) -> RunConfig:
    p = run_dir / "config.yaml"
    if not p.is_file():
        raise GenlabError(f"{str(run_dir)!r} is not a genlab run directory (no config.yaml); give the "
                          "directory that 'genlab train' printed")
    raw = yaml.safe_load(p.read_text()) or {}
    return resolve(raw["model_name"], [{s: raw.get(s) or {} for s in ("model", "train", "data")}])


def read_data_info(run_dir: Path) -> tuple[DataInfo, dict]:
    p = run_dir / "data_info.json"
    try:
        raw = json.loads(p.read_text())
        info = DataInfo.from_dict(raw)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise GenlabError(f"{p} is missing or damaged ({type(e).__name__}); the run cannot be rebuilt "
                          "without it") from None
    return info, raw


@dataclass
class LoadedRun:
    run_dir: Path
    config: RunConfig
    info: DataInfo
    meta: dict
    model: GenerativeModel
    step: int
    ema: bool


def load_run(run_dir: str | Path, *, device: str | torch.device = "cpu", use_ema: bool = True) -> LoadedRun:
    """Model with the newest weights of a run: final weights if training finished, else the latest
    checkpoint; EMA weights replace the live ones where present (unless use_ema=False)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GenlabError(f"run directory {str(run_dir)!r} does not exist")
    cfg = read_config(run_dir)
    info, meta = read_data_info(run_dir)
    model = build_model(cfg, info)
    latest = ckpt.latest_checkpoint(run_dir)
    final = run_dir / "model.safetensors"
    step = cfg.train.steps
    if final.is_file() and (latest is None or int(latest.name.split("-")[1]) >= cfg.train.steps):
        src = run_dir
    elif latest is not None:
        src, step = latest, int(latest.name.split("-")[1])
    else:
        raise GenlabError(f"run {str(run_dir)!r} has no weights yet (no checkpoint written); train longer "
                          "or resume it")
    weights = ckpt.load_weights(src / "model.safetensors")
    ema_file = src / "ema.safetensors"
    used_ema = use_ema and ema_file.is_file()
    if used_ema:
        weights.update(ckpt.load_weights(ema_file))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise GenlabError(f"weights in {src} do not match the run's config (missing {list(missing)[:3]}, "
                          f"unexpected {list(unexpected)[:3]})")
    model.to(device).eval()
    return LoadedRun(run_dir, cfg, info, meta, model, step, used_ema)


def warm_start(model: GenerativeModel) -> None:
    """Initialise a new run's model from the run it names (`model.warm_start_source()`, e.g. SRGAN's
    model.init_from): that run's newest weights (EMA where present), read from its safetensors, are
    handed to `model.warm_start`, which refuses a run that does not fit. Called once, before the new run
    directory exists; resumed runs and `load_run` never call it (their own weights replace these)."""
    source = model.warm_start_source()
    if not source:
        return
    other = load_run(source, device=model.device)
    model.warm_start(other)


def class_index(value, info, option: str = "--class") -> int:
    """A class name (case-insensitive; '/' and '-' optional) or index -> index, checked against the run."""
    names = list(info.classes)
    k = info.n_classes
    value = str(value)
    if value.strip().lstrip("-").isdigit():
        i = int(value)
        if not 0 <= i < k:
            raise GenlabError(f"{option} {value} is out of range; this run has classes 0..{k - 1}")
        return i
    norm = lambda s: "".join(ch for ch in s.lower() if ch.isalnum())  # noqa: E731
    for i, name in enumerate(names):
        if norm(name) == norm(value) or norm(value) in norm(name).split():
            return i
    raise GenlabError(f"{option} {value!r} is not a class of this run; choose one of: "
                      f"{', '.join(repr(n) for n in names) or f'0..{k - 1}'}")


@torch.no_grad()
def draw(model, n: int, seed: int, dev: torch.device, batch: int = 500, cond: dict | None = None,
         progress=None) -> torch.Tensor:
    """n samples in chunks, from one seeded generator (so the result does not depend on the chunking);
    `progress` (a genlab.progress.Progress) advances per chunk."""
    g = torch.Generator(dev).manual_seed(seed)
    parts = []
    for i in range(0, n, batch):
        m = min(batch, n - i)
        if cond:
            part = model.sample(m, generator=g, cond={k: v[i:i + m].to(dev) for k, v in cond.items()})
        else:
            part = model.sample(m, generator=g)
        parts.append(part.float().cpu())
        if progress is not None:
            progress.update(m)
    return torch.cat(parts, 0)
