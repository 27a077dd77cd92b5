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


def opt(default: Any = dataclasses.MISSING, help: str = "", choices: Optional[tuple] = None, *,
        factory: Any = dataclasses.MISSING) -> Any:
    """A config field with its one-line help and, where the values are a fixed set, its choices:
    `genlab train MODEL --help` prints both, and `build` refuses a value outside `choices`."""
    meta = {"help": help, **({"choices": tuple(choices)} if choices else {})}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """How to train (any model). `steps` counts optimisation steps (one batch each)."""

    steps: int = opt(2000, "optimisation steps (one batch each)")
    batch_size: int = opt(128, "examples per step (split over processes and accumulation micro-batches)")
    lr: float = opt(1e-3, "learning rate of every parameter group (see group_lr)")
    group_lr: dict[str, float] = opt(help="per-parameter-group learning rate, e.g. discriminator:4e-4 (TTUR)",
                                     factory=dict)
    betas: tuple[float, float] = opt((0.9, 0.999), "Adam-style betas: two numbers in [0, 1)")
    weight_decay: float = opt(0.0, "weight decay (decoupled for adamw)")
    optimizer: str = opt("adam", "optimiser by name (genlab list optimizers)")
    accumulate: int = opt(1, "gradient accumulation: micro-batches per optimiser step (batch_size split k ways)")
    grad_clip: float = opt(0.0, "max global gradient norm per group; 0 = off")
    lr_schedule: str = opt("constant", "learning-rate schedule: linear and cosine decay to 0 at the last step",
                           ("constant", "linear", "cosine"))
    warmup: int = opt(0, "linear warm-up steps before the schedule")
    decay_start: float = opt(0, "linear/cosine: lr constant until this step (or this fraction of steps if < 1), "
                             "then to 0")
    precision: str = opt("auto", "arithmetic: auto = bf16 autocast where supported, else fp32",
                         ("auto", "bf16", "fp32"))
    ema: float = opt(0.0, "EMA decay of the sampling networks (0 = off), e.g. 0.999")
    ema_networks: tuple[str, ...] = opt((), "networks to average (default: the model's sampling networks)")
    seed: int = opt(0, "seed of initial weights, data order and training noise")
    device: str = opt("auto", "auto (a GPU if there is one), cpu, cuda or cuda:N")
    log_every: int = opt(50, "steps between lines of metrics.jsonl (and TensorBoard scalars)")
    sample_every: int = opt(0, "steps between sample grids in RUN/samples; 0 = at the end only")
    ckpt_every: int = opt(500, "steps between checkpoints")
    keep_checkpoints: int = opt(2, "checkpoints kept (older ones are deleted)")
    tensorboard: bool = opt(False, "also write TensorBoard events to RUN/tb (scalars, sample grids, hparams)")
    compile: bool = opt(False, "torch.compile each network")
    channels_last: bool = opt(False, "channels-last memory format for image networks and batches")
    progress: bool = opt(True, "show the progress line (count, elapsed time, ETA) on stderr")
    on_nan: str = opt("stop", "when a loss becomes NaN/inf: stop, or rollback (reload the last checkpoint, "
                      "halve lr, continue)", ("stop", "rollback"))
    threads: int = opt(0, "torch CPU threads; 0 = torch's default")

    def decay_step(self) -> int:
        """The step where linear/cosine decay starts (decay_start as a step, or a fraction of steps)."""
        return int(round(self.decay_start * self.steps)) if self.decay_start < 1 else int(self.decay_start)

    def __post_init__(self):
        _check(self.steps >= 1, "train.steps", self.steps, "a positive integer")
        _check(self.batch_size >= 1, "train.batch_size", self.batch_size, "a positive integer")
        _check(self.lr > 0, "train.lr", self.lr, "a positive number")
        _check(all(v > 0 for v in self.group_lr.values()), "train.group_lr", self.group_lr, "positive rates")
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "train.betas", self.betas,
               "two numbers in [0, 1)")
        for key in ("precision", "lr_schedule", "on_nan"):  # the allowed values live in the field metadata
            allowed = choices_of(TrainConfig, key)
            _check(getattr(self, key) in allowed, f"train.{key}", getattr(self, key), _one_of(allowed))
        _check(self.warmup >= 0, "train.warmup", self.warmup, ">= 0")
        _check(0 <= self.decay_start < self.steps and (self.decay_start < 1 or self.decay_start == int(self.decay_start)),
               "train.decay_start", self.decay_start, f"a fraction in [0, 1) or a whole step below train.steps={self.steps}")
        _check(0 <= self.ema < 1, "train.ema", self.ema, "a decay in [0, 1)")
        _check(self.grad_clip >= 0, "train.grad_clip", self.grad_clip, ">= 0")
        _check(self.log_every >= 1, "train.log_every", self.log_every, "a positive integer")
        _check(self.ckpt_every >= 1, "train.ckpt_every", self.ckpt_every, "a positive integer")
        _check(self.keep_checkpoints >= 1, "train.keep_checkpoints", self.keep_checkpoints, ">= 1")
        _check(self.sample_every >= 0, "train.sample_every", self.sample_every, ">= 0")
        _check(self.accumulate >= 1 and self.batch_size % self.accumulate == 0, "train.accumulate",
               self.accumulate, f"a positive divisor of train.batch_size={self.batch_size}")
        from .registry import OPTIMIZERS
        if OPTIMIZERS.entries():
            _check(self.optimizer in OPTIMIZERS, "train.optimizer", self.optimizer, ", ".join(OPTIMIZERS))


@dataclass
class DataConfig:
    """What to train on: a registered dataset (`genlab list datasets`) and its options."""

    name: str = opt("", "registered dataset (genlab list datasets); also --data NAME[:SPLIT]")
    split: str = opt("train", "split to train on")
    eval_split: str = opt("test", "split genlab eval, reconstruct and probe use by default")
    path: Optional[str] = opt(None, "folder/array datasets, or an explicit Fashion-MNIST directory")
    size: Optional[int] = opt(None, "image folders: resize/crop to size x size; simulators: grid height")
    channels: Optional[int] = opt(None, "image folders: 1 (grayscale) or 3 (RGB)", (1, 3))
    n: Optional[int] = opt(None, "toys: points; simulators: training examples (test: n/4); music: first n pieces")
    dim: Optional[int] = opt(None, "two-gaussians: 1 or 2 dimensions", (1, 2))
    limit: int = opt(0, "use only the first `limit` examples (0 = all); for quick runs")
    derive: Optional[str] = opt(None, "derived fields per batch, e.g. mask:strokes,lowres:4 (data/derive.py)")
    skip_bad: Optional[bool] = opt(None, "image folders: skip unreadable files (with a warning) instead of failing")
    layout: Optional[str] = opt(None, "arrays: axis order of 4-D arrays", ("auto", "nchw", "nhwc"))
    gaps: Optional[str] = opt(None, "arrays: NaNs are an error, or a validity mask field x_valid", ("error", "mask"))
    units: Optional[str] = opt(None, "arrays: units of float fields (e.g. K, m/s)")
    periodic: Optional[str] = opt(None, "arrays: axes that wrap around (checked)", ("none", "x", "y", "xy"))
    pairs: Optional[str] = opt(None, "folder-pairs: auto, dirs (A/ + B/), ab or ba (side-by-side images)",
                               ("auto", "dirs", "ab", "ba"))
    var: Optional[str] = opt(None, "netCDF datasets: variable name(s), e.g. sst or uwnd,vwnd; rayleigh-benard: "
                                   "channels from temperature,vorticity,u,w")
    level: Optional[str] = opt(None, "netCDF: level coordinate value (e.g. depth 100) or #index; ocean-atlas: "
                               "comma-separated depths in m (default 0,10,20,30)")
    region: Optional[tuple[float, float, float, float]] = opt(None, "netCDF: lat0,lat1,lon0,lon1 box in degrees")
    res: Optional[int] = opt(None, "etopo: resolution in arc-minutes", (5, 20, 40, 60, 120))
    scenario: Optional[str] = opt(None, "na-air-temp: emission scenario a1b or e1")
    classes: Optional[str] = opt(None, "fmnist-edges: Fashion-MNIST classes, e.g. shoes or sneaker+sandal")
    a: Optional[str] = opt(None, "fmnist-unpaired: classes of domain A (default sneaker)")
    b: Optional[str] = opt(None, "fmnist-unpaired: classes of domain B (default ankle-boot)")
    edges: Optional[str] = opt(None, "fmnist-unpaired: a = domain A as Canny edge maps", ("none", "a"))
    ra: Optional[float] = opt(None, "rayleigh-benard: Rayleigh number (1e4 ... 1e8; default 1e6)")
    pr: Optional[float] = opt(None, "rayleigh-benard: Prandtl number (default 1)")
    mean_flow: Optional[str] = opt(None, "rayleigh-benard: mean shear flow", ("free", "suppressed"))
    seed: Optional[int] = opt(None, "simulators (rayleigh-benard, grf, lognormal): generator seed (default 0)")
    slope: Optional[float] = opt(None, "grf, lognormal: power-law index of the spectrum P(k) ∝ k^slope")
    sigma: Optional[float] = opt(None, "grf, lognormal: standard deviation of the field")
    shift: Optional[float] = opt(None, "lognormal: shift lambda (kappa > -lambda; default 0.03)")
    repr: Optional[str] = opt(None, "music: 88-key piano roll or event tokens", ("roll", "tokens"))
    frame: Optional[float] = opt(None, "music: quarter notes per roll frame / time-shift step (chorales: 1)")
    length: Optional[int] = opt(None, "sequence datasets: steps per example (longer pieces are cut into chunks)")
    transpose: Optional[int] = opt(None, "music: random transposition of training examples by ≤ N semitones")
    runs: Optional[int] = opt(None, "rayleigh-benard: independent solver runs per split (default 4)")
    context: Optional[int] = opt(None, "coads-holdout, ocean-atlas: K neighbouring months on each side as extra "
                                 "input channels")
    context_gaps: Optional[str] = opt(None, "ocean-atlas: the COADS variable whose observation gaps the neighbouring "
                                      "months get (default sst), or none")
    extra: Optional[str] = opt(None, "photos: more training photos (train split only)", ("wallpapers",))

    def options(self) -> dict:  # the dataset's options: every field but these four, derive last
        keys = [f.name for f in fields(self) if f.name not in ("name", "split", "eval_split", "limit", "derive")]
        return {k: getattr(self, k) for k in keys + ["derive"] if getattr(self, k) is not None}


def _check(ok: bool, key: str, value: Any, want: str) -> None:
    if not ok:
        raise ValueError(f"{key}={value!r} is invalid; expected {want}")


def _one_of(values) -> str:
    v = [str(x) for x in values]
    return v[0] if len(v) == 1 else ", ".join(v[:-1]) + " or " + v[-1]


def choices_of(cls, name: str) -> tuple:
    """The allowed values of field `name` of config dataclass `cls`, from its metadata (() if free)."""
    for f in fields(cls):
        if f.name == name:
            return tuple(f.metadata.get("choices", ()))
    raise KeyError(name)


def did_you_mean(word: str, options, prefix: str = "") -> str:
    """' (did you mean X?)' for the closest of `options`, or '' when nothing is close."""
    import difflib

    close = difflib.get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


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
        hint = did_you_mean(unknown[0], types_, f"{section}.")
        raise ValueError(f"unknown key(s) {', '.join(section + '.' + u for u in unknown)}{hint}; valid keys: "
                         f"{', '.join(section + '.' + k for k in types_)}")
    kwargs = {k: coerce(v, types_[k], f"{section}.{k}") for k, v in values.items()}
    for k, v in kwargs.items():  # values outside a field's declared choices (case-insensitive for text)
        allowed = choices_of(cls, k)
        if allowed and v is not None and _norm(v) not in {_norm(a) for a in allowed}:
            raise ValueError(f"{section}.{k}={v!r} is invalid; expected {_one_of(allowed)}"
                             f"{did_you_mean(str(v), allowed)}")
    return cls(**kwargs)


def _norm(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


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
            hint = did_you_mean(section, out, "--") if rest else ""
            raise GenlabError(f"unknown section in --{key}{hint and hint[:-2] + '.' + rest + '?)'}; use "
                              "--model.KEY, --train.KEY or --data.KEY")
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
