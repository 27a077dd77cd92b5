"""Run configuration: three dataclass sections (model, train, data), YAML presets, dotted overrides.

`--train.lr=2e-4`, `--model.latent_dim=16`, `--train.group_lr.discriminator=4e-4`. Flags come from
dataclass fields, so the CLI has no per-model code; unknown keys are errors that list valid keys.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from .errors import GenlabError


@dataclass
class TrainConfig:
    """How to train (any model). `steps` counts optimisation steps (one batch each)."""

    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    group_lr: dict[str, float] = field(default_factory=dict)  # per-parameter-group lr (e.g. TTUR)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    optimizer: str = "adam"  # adam | adamw | rmsprop | sgd (genlab list optimizers)
    accumulate: int = 1  # gradient accumulation: micro-batches per optimiser step (batch_size split k ways)
    grad_clip: float = 0.0  # max global grad norm per group; 0 = off
    lr_schedule: str = "constant"  # constant | linear (to 0 at the last step) | cosine (to 0)
    warmup: int = 0  # linear warm-up steps before the schedule
    precision: str = "auto"  # auto (bf16 where supported), bf16, fp32
    ema: float = 0.0  # EMA decay for `ema_networks` (0 = off), e.g. 0.999
    ema_networks: tuple[str, ...] = ()  # default: the model's sampling networks
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    log_every: int = 50
    sample_every: int = 0  # 0 = at the end only
    ckpt_every: int = 500
    keep_checkpoints: int = 2
    tensorboard: bool = False
    compile: bool = False
    channels_last: bool = False
    progress: bool = True
    on_nan: str = "stop"  # stop | rollback (reload last checkpoint, halve lr, continue)
    threads: int = 0  # torch CPU threads; 0 = torch's default

    def __post_init__(self):
        _check(self.steps >= 1, "train.steps", self.steps, "a positive integer")
        _check(self.batch_size >= 1, "train.batch_size", self.batch_size, "a positive integer")
        _check(self.lr > 0, "train.lr", self.lr, "a positive number")
        _check(all(v > 0 for v in self.group_lr.values()), "train.group_lr", self.group_lr, "positive rates")
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "train.betas", self.betas,
               "two numbers in [0, 1)")
        _check(self.precision in ("auto", "bf16", "fp32"), "train.precision", self.precision,
               "auto, bf16 or fp32")
        _check(self.lr_schedule in ("constant", "linear", "cosine"), "train.lr_schedule", self.lr_schedule,
               "constant, linear or cosine")
        _check(self.warmup >= 0, "train.warmup", self.warmup, ">= 0")
        _check(0 <= self.ema < 1, "train.ema", self.ema, "a decay in [0, 1)")
        _check(self.grad_clip >= 0, "train.grad_clip", self.grad_clip, ">= 0")
        _check(self.log_every >= 1, "train.log_every", self.log_every, "a positive integer")
        _check(self.ckpt_every >= 1, "train.ckpt_every", self.ckpt_every, "a positive integer")
        _check(self.keep_checkpoints >= 1, "train.keep_checkpoints", self.keep_checkpoints, ">= 1")
        _check(self.on_nan in ("stop", "rollback"), "train.on_nan", self.on_nan, "stop or rollback")
        _check(self.sample_every >= 0, "train.sample_every", self.sample_every, ">= 0")
        _check(self.accumulate >= 1 and self.batch_size % self.accumulate == 0, "train.accumulate",
               self.accumulate, f"a positive divisor of train.batch_size={self.batch_size}")
        from .registry import OPTIMIZERS
        if OPTIMIZERS.entries():
            _check(self.optimizer in OPTIMIZERS, "train.optimizer", self.optimizer, ", ".join(OPTIMIZERS))


@dataclass
class DataConfig:
    """What to train on: a registered dataset (`genlab list datasets`) and its options."""

    name: str = ""
    split: str = "train"
    eval_split: str = "test"
    path: Optional[str] = None  # folder/array datasets, or an explicit Fashion-MNIST directory
    size: Optional[int] = None  # image folders: resize/crop to size x size
    channels: Optional[int] = None  # image folders: 1 or 3
    n: Optional[int] = None  # toys: number of points
    dim: Optional[int] = None  # two-gaussians: 1 or 2
    limit: int = 0  # use only the first `limit` examples (0 = all); for quick runs
    derive: Optional[str] = None  # derived fields per batch, e.g. mask:strokes,lowres:4 (data/derive.py)
    skip_bad: Optional[bool] = None  # image folders: skip unreadable files (with a warning) instead of failing
    layout: Optional[str] = None  # arrays: auto | nchw | nhwc (axis order of 4-D arrays)
    gaps: Optional[str] = None  # arrays: error | mask (NaNs become a validity mask field x_valid)
    units: Optional[str] = None  # arrays: units of float fields (e.g. K, m/s)
    pairs: Optional[str] = None  # folder-pairs: auto | dirs (A/ + B/) | ab | ba (side-by-side images)
    var: Optional[str] = None  # netCDF datasets: variable name(s), e.g. sst or uwnd,vwnd
    level: Optional[str] = None  # netCDF: level coordinate value (e.g. depth 100) or #index
    region: Optional[tuple[float, float, float, float]] = None  # netCDF: lat0,lat1,lon0,lon1 box in degrees
    res: Optional[int] = None  # etopo: resolution in arc-minutes (5, 20, 40, 60, 120)
    scenario: Optional[str] = None  # na-air-temp: a1b or e1

    def options(self) -> dict:
        keys = ("path", "size", "channels", "n", "dim", "skip_bad", "layout", "gaps", "units", "pairs",
                "var", "level", "region", "res", "scenario", "derive")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


def _check(ok: bool, key: str, value: Any, want: str) -> None:
    if not ok:
        raise ValueError(f"{key}={value!r} is invalid; expected {want}")


# --- conversion ---------------------------------------------------------------------------------

def _strip_optional(tp):
    origin = typing.get_origin(tp)
    if origin in (Union, getattr(types, "UnionType", Union)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def coerce(value: Any, tp, key: str) -> Any:
    """Convert a YAML/CLI value to the field's type, with an error naming the key."""
    tp, optional = _strip_optional(tp)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null")):
        if optional:
            return None
        raise ValueError(f"{key} cannot be empty")
    origin = typing.get_origin(tp)
    try:
        if tp is bool:
            if isinstance(value, bool):
                return value
            s = str(value).lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if tp is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(float(value)) if isinstance(value, str) and "e" in value.lower() else int(value)
        if tp is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if tp is str:
            return str(value)
        if origin is tuple:
            items = _split_list(value)
            args = typing.get_args(tp)
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(coerce(v, args[0], key) for v in items)
            if len(items) != len(args):
                raise ValueError
            return tuple(coerce(v, a, key) for v, a in zip(items, args))
        if origin is list:
            return [coerce(v, typing.get_args(tp)[0], key) for v in _split_list(value)]
        if origin is dict:
            kt, vt = typing.get_args(tp)
            if isinstance(value, str):
                value = dict(kv.split(":", 1) for kv in _split_list(value) if kv)
            return {coerce(k, kt, key): coerce(v, vt, key) for k, v in dict(value).items()}
    except (TypeError, ValueError):
        raise ValueError(f"{key}={value!r} is not a valid {getattr(tp, '__name__', tp)}") from None
    return value


def _split_list(value: Any) -> list:
    if isinstance(value, (list, tuple)):
        return list(value)
    s = str(value).strip().strip("[]()")
    return [v.strip() for v in s.split(",") if v.strip()] if s else []


def field_types(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def build(cls, values: dict, section: str):
    """Instantiate dataclass `cls` from a dict; unknown keys raise an error listing valid ones."""
    types_ = field_types(cls)
    unknown = sorted(set(values) - set(types_))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(section + '.' + u for u in unknown)}; valid keys: "
                         f"{', '.join(section + '.' + k for k in types_)}")
    kwargs = {k: coerce(v, types_[k], f"{section}.{k}") for k, v in values.items()}
    return cls(**kwargs)


def to_dict(obj) -> dict:
    """Dataclass -> plain YAML-able dict (tuples become lists)."""
    def plain(v):
        if is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        return v
    return plain(obj)


def parse_overrides(args: list[str]) -> dict[str, dict]:
    """['--train.lr=1e-3', '--model.latent_dim', '8'] -> {'train': {'lr': '1e-3'}, 'model': {...}}.

    A key may be nested once more for dict fields: --train.group_lr.discriminator=4e-4.
    """
    out: dict[str, dict] = {"model": {}, "train": {}, "data": {}}
    i = 0
    while i < len(args):
        a = args[i]
        if not a.startswith("--") or "." not in a.split("=", 1)[0]:
            raise GenlabError(f"unexpected argument {a!r}; overrides look like --section.key=value "
                              "with section model, train or data")
        key, eq, val = a[2:].partition("=")
        if not eq:
            if i + 1 >= len(args):
                raise GenlabError(f"--{key} needs a value, e.g. --{key}=VALUE")
            val, i = args[i + 1], i + 1
        section, _, rest = key.partition(".")
        if section not in out or not rest:
            raise GenlabError(f"unknown section in --{key}; use --model.KEY, --train.KEY or --data.KEY")
        name, _, sub = rest.partition(".")
        if sub:
            out[section].setdefault(name, {})
            if not isinstance(out[section][name], dict):
                raise GenlabError(f"--{section}.{name} given both as a value and as a mapping")
            out[section][name][sub] = val
        else:
            out[section][name] = val
        i += 1
    return out


def read_yaml(path: str | Path) -> dict[str, dict]:
    p = Path(path)
    if not p.is_file():
        raise GenlabError(f"config file {str(p)!r} not found; give an existing YAML file")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise GenlabError(f"config file {p} is not valid YAML{where}; fix its syntax") from None
    if not isinstance(raw, dict):
        raise GenlabError(f"config file {p} must be a mapping with sections model:, train:, data:")
    unknown = sorted(set(raw) - {"model", "train", "data", "model_name"})
    if unknown:
        raise GenlabError(f"config file {p} has unknown section(s) {', '.join(unknown)}; "
                          "allowed: model, train, data")
    for s in ("model", "train", "data"):
        if raw.get(s) is not None and not isinstance(raw[s], dict):
            raise GenlabError(f"section {s}: in {p} must be a mapping")
    return {s: dict(raw.get(s) or {}) for s in ("model", "train", "data")} | (
        {"model_name": raw["model_name"]} if "model_name" in raw else {})


def merge(*layers: dict[str, dict]) -> dict[str, dict]:
    """Later layers win, key by key (dict fields merge one level deeper)."""
    out: dict[str, dict] = {"model": {}, "train": {}, "data": {}}
    for layer in layers:
        for s in ("model", "train", "data"):
            for k, v in (layer.get(s) or {}).items():
                if isinstance(v, dict) and isinstance(out[s].get(k), dict):
                    out[s][k] = {**out[s][k], **v}
                else:
                    out[s][k] = v
    return out


@dataclass
class RunConfig:
    """Everything that defines a run; written to RUN_DIR/config.yaml before step 0."""

    model_name: str
    model: Any
    train: TrainConfig
    data: DataConfig

    def to_dict(self) -> dict:
        return {"model_name": self.model_name, "model": to_dict(self.model), "train": to_dict(self.train),
                "data": to_dict(self.data)}

    def dump(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def resolve(model_name: str, layers: list[dict[str, dict]]) -> RunConfig:
    """Build a RunConfig from layered dicts: model defaults < preset file < CLI overrides."""
    from .registry import MODELS

    entry = MODELS.entry(model_name)
    cls = entry.obj
    given = merge(*layers)
    try:
        model_cfg = build(entry.meta["config"], given["model"], "model")
        # the model's default layer may depend on its config (e.g. per-loss GAN settings); it sits under
        # everything given, so the model config is rebuilt only if it adds model keys
        defaults = cls.defaults_for(model_cfg)
        merged = merge(defaults, given)
        if defaults.get("model"):
            model_cfg = build(entry.meta["config"], merged["model"], "model")
        train_cfg = build(TrainConfig, merged["train"], "train")
        data_cfg = build(DataConfig, merged["data"], "data")
    except ValueError as e:
        raise GenlabError(str(e)) from None
    return RunConfig(model_name, model_cfg, train_cfg, data_cfg)


def config_help(cls) -> list[tuple[str, str, str]]:
    """(key, type, default) rows for `genlab list` / `--help`."""
    rows = []
    for f in fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "")
        rows.append((f.name, str(field_types(cls)[f.name]).replace("typing.", ""), repr(default)))
    return rows
