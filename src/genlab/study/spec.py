"""The study spec: a YAML file that fixes every trial of a study before any of them runs.

    name: lucic-fmnist                 # the Optuna study name (default: the file's stem)
    model: dcgan                       # what `genlab train MODEL` gets
    data: fashion-mnist                # NAME or NAME:SPLIT, as --data
    config: dcgan-fmnist-lucic         # optional preset (a name from `genlab list presets`, or a YAML path)
    base: {train.steps: 18760, train.threads: 1}          # --section.key=value for every trial
    search:
      method: grid                     # grid: every combination; random: budget.trials points drawn
      params: {model.loss: [minimax, nonsaturating, wgan-gp]}   # random: also {log_uniform: [lo, hi]} ...
    seeds: 3                           # train.seed values: a count (0, 1, 2) or a list
    eval: {metrics: [fid], n: 10000, split: test, extractor: inception}
    budget: {max_retries: 3}           # random search: trials = number of points drawn
    heartbeat: {interval_s: 30, grace_s: 120}
    report: {group_by: [model.loss]}

Trials = search points × seeds, in a fixed order with fixed names (`loss=wgan-gp,seed=1`; random points
are prefixed `p003,`), so every worker and every restart agrees on them. Random points are drawn from
`search.seed` with NumPy and rounded to 4 significant digits, which is what the name shows.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from ..config import did_you_mean, resolve
from ..errors import GenlabError
from .values import SECTIONS, cli_value, draw, name_value, nested, optuna_value, short_names

TOP = ("name", "command", "model", "data", "config", "base", "search", "seeds", "eval", "budget", "heartbeat",
       "report")
EVAL_KEYS = ("metrics", "n", "split", "extractor", "seed", "precision", "objective", "batch", "device")
# what each `genlab eval --metrics` name records, and which way each value is better
VALUES = {"fid": ("fid",), "kid": ("kid_mean", "kid_std"), "pr": ("precision", "recall"),
          "dc": ("density", "coverage"), "is": ("is_mean", "is_std")}
MINIMIZE = {"fid", "kid_mean"}
MAXIMIZE = {"precision", "recall", "density", "coverage", "is_mean"}
DISTRIBUTIONS = ("choice", "uniform", "log_uniform", "int")
_KEY = re.compile(r"^(model|train|data)\.[A-Za-z_]\w*(\.[\w+-]+)?$")


@dataclass(frozen=True)
class Param:
    """One searched key: `kind` grid (values listed) or a random distribution over `values`
    (choice: the values; uniform, log_uniform, int: (low, high), both ends included)."""

    key: str
    kind: str
    values: tuple


@dataclass(frozen=True)
class EvalSpec:
    """The evaluation of every finished trial: `genlab eval RUN --metrics ... --n N --split S ...`."""

    metrics: tuple[str, ...] = ("fid",)
    n: int = 10000
    split: Optional[str] = None  # None: the run's data.eval_split
    extractor: str = "auto"  # auto: genlab eval's default for the image shape
    seed: int = 0
    precision: str = "auto"
    objective: str = "fid"
    batch: int = 250
    device: Optional[str] = None

    @property
    def direction(self) -> str:
        return "minimize" if self.objective in MINIMIZE else "maximize"

    def protocol(self) -> dict:
        """What defines the measurement (the device does not)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if k != "device"}


@dataclass(frozen=True)
class TrialPlan:
    """One trial: its directory name, its Optuna params and the `genlab train` overrides it runs with."""

    name: str
    params: dict  # Optuna param name -> value (a number, text or bool)
    overrides: dict  # dotted key -> value: base, then the point's values, then train.seed
    group: str  # the report's group label


@dataclass
class StudySpec:
    name: str
    model: str
    data: str
    config: Optional[str] = None
    base: dict = field(default_factory=dict)
    method: str = "grid"
    params: tuple[Param, ...] = ()
    search_seed: int = 0
    seeds: tuple[int, ...] = (0,)
    eval: EvalSpec = field(default_factory=EvalSpec)
    trials: int = 0  # random search: points drawn
    max_retries: int = 3
    heartbeat_s: int = 30
    grace_s: int = 120
    group_by: tuple[str, ...] = ()

    # --- trials -------------------------------------------------------------------------------
    def points(self) -> list[dict]:
        """The search points (key -> value), in order: the grid's product, or the random draws."""
        if not self.params:
            return [{}]
        if self.method == "grid":
            keys = [p.key for p in self.params]
            return [dict(zip(keys, combo)) for combo in itertools.product(*(p.values for p in self.params))]
        import numpy as np

        rng = np.random.default_rng(self.search_seed)
        return [{p.key: draw(p, rng) for p in self.params} for _ in range(self.trials)]

    def plans(self) -> list[TrialPlan]:
        """Every trial, points × seeds; names are unique (checked)."""
        short = short_names([p.key for p in self.params] + ["train.seed"])
        out, seen = [], {}
        for i, point in enumerate(self.points()):
            head = [f"p{i:03d}"] if self.method == "random" else []
            for seed in self.seeds:
                values = {**point, "train.seed": seed}
                name = ",".join(head + [f"{short[k]}={name_value(v)}" for k, v in values.items()])
                if name in seen:
                    raise GenlabError(f"study spec: trials {seen[name]} and {i} would share the directory name "
                                      f"{name!r}; make the listed values differ")
                seen[name] = i
                group = ",".join(f"{short[k]}={name_value(point[k])}" for k in self.group_by) or "all"
                out.append(TrialPlan(name, {k: optuna_value(v) for k, v in values.items()},
                                     {**self.base, **values}, group))
        return out

    def train_argv(self, plan: TrialPlan, out: Path) -> list[str]:
        """`genlab train` arguments of a trial (a new run in `out`)."""
        argv = ["train", self.model, "--data", self.data, "--out", str(out)]
        if self.config:
            argv += ["--config", self.config]
        return argv + [f"--{k}={cli_value(v)}" for k, v in plan.overrides.items()]

    def layers(self, plan: TrialPlan, preset: dict) -> list[dict]:
        """The config layers `genlab train` resolves for this trial: preset < --data < overrides."""
        name, _, split = self.data.partition(":")
        return [preset, {"data": {"name": name, "split": split or "train"}}, nested(plan.overrides)]

    # --- identity -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The normalised spec (JSON-able); `from_dict(to_dict())` gives the same spec."""
        search: dict = {"method": self.method, "seed": self.search_seed,
                        "params": {p.key: (list(p.values) if p.kind == "grid" else {p.kind: list(p.values)})
                                   for p in self.params}}
        return {"name": self.name, "command": "train", "model": self.model, "data": self.data,
                "config": self.config, "base": dict(self.base), "search": search, "seeds": list(self.seeds),
                "eval": {k: v for k, v in self.eval.protocol().items()} | {"device": self.eval.device},
                "budget": {"trials": self.trials, "max_retries": self.max_retries},
                "heartbeat": {"interval_s": self.heartbeat_s, "grace_s": self.grace_s},
                "report": {"group_by": list(self.group_by)}}

    def fingerprint(self) -> str:
        """SHA-256 of what the trials and their evaluation are: model, data, preset name, every trial's
        name and overrides, the eval protocol. Comments, key order, heartbeat and report settings are not
        part of it (they may change while a study runs)."""
        what = {"name": self.name, "model": self.model, "data": self.data, "config": self.config,
                "trials": [[p.name, {k: cli_value(v) for k, v in p.overrides.items()}] for p in self.plans()],
                "eval": self.eval.protocol()}
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


# --- parsing ----------------------------------------------------------------------------------------
def load_spec(path: str | Path) -> StudySpec:
    """Read and check a spec file's structure (one-line GenlabErrors naming the key and the fix)."""
    p = Path(path)
    if not p.is_file():
        raise GenlabError(f"study spec {str(p)!r} not found; give an existing YAML file")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise GenlabError(f"study spec {p} is not valid YAML{f' (line {mark.line + 1})' if mark else ''}; "
                          "fix its syntax") from None
    if not isinstance(raw, dict):
        raise GenlabError(f"study spec {p} must be a mapping (model:, data:, search:, seeds:, eval: ...)")
    raw = dict(raw)
    raw.setdefault("name", p.stem)
    if isinstance(raw.get("config"), str) and raw["config"].endswith((".yaml", ".yml")):
        cfg = Path(raw["config"])  # a preset file next to the spec
        raw["config"] = str(cfg if cfg.is_absolute() else (p.parent / cfg).resolve())
    return from_dict(raw, str(p))


def _mapping(raw: dict, key: str, allowed: tuple, where: str) -> dict:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise GenlabError(f"{where}: {key}: must be a mapping")
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise GenlabError(f"{where}: unknown key {key}.{unknown[0]}{did_you_mean(str(unknown[0]), allowed, key + '.')}"
                          f"; allowed: {', '.join(allowed)}")
    return value


def _int(value: Any, key: str, where: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise GenlabError(f"{where}: {key}={value!r} is invalid; expected an integer >= {low}")
    return value


def _dotted(key: Any, where: str) -> str:
    k = str(key)[2:] if str(key).startswith("--") else str(key)
    if not _KEY.match(k):
        raise GenlabError(f"{where}: {key!r} is not a config key; write model.KEY, train.KEY or data.KEY")
    if k in ("train.seed", "data.name", "data.split"):
        what = "seeds:" if k == "train.seed" else "data: NAME[:SPLIT]"
        raise GenlabError(f"{where}: {k} is set by {what}; remove it from base/search")
    return k


def from_dict(raw: dict, where: str = "study spec") -> StudySpec:
    unknown = [k for k in raw if k not in TOP]
    if unknown:
        raise GenlabError(f"{where}: unknown key {unknown[0]!r}{did_you_mean(str(unknown[0]), TOP)}; allowed: "
                          f"{', '.join(TOP)}")
    if raw.get("command", "train") != "train":
        raise GenlabError(f"{where}: command={raw['command']!r} is invalid; a study runs 'train' trials")
    for key in ("model", "data"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise GenlabError(f"{where}: {key}: is missing; name the {key} (genlab list {key}s)")
    name = str(raw.get("name") or "")
    if not re.fullmatch(r"[\w.+-]+", name):
        raise GenlabError(f"{where}: name={name!r} is invalid; use letters, digits, '.', '_', '+', '-'")
    base_raw = raw.get("base") or {}
    if not isinstance(base_raw, dict):
        raise GenlabError(f"{where}: base: must be a mapping of KEY: value (train.steps: 1000)")
    base = {_dotted(k, where + " base"): v for k, v in base_raw.items()}
    search = _mapping(raw, "search", ("method", "params", "seed"), where)
    method = search.get("method", "grid")
    if method not in ("grid", "random"):
        raise GenlabError(f"{where}: search.method={method!r} is invalid; expected grid or random")
    params = _params(search, method, where)
    dup = [p.key for p in params if p.key in base]
    if dup:
        raise GenlabError(f"{where}: {dup[0]} is both in base and in search.params; keep one")
    budget = _mapping(raw, "budget", ("trials", "max_retries"), where)
    trials = _int(budget.get("trials", 0), "budget.trials", where)
    if method == "random" and trials < 1:
        raise GenlabError(f"{where}: a random search needs budget.trials: N (the number of points to draw)")
    if method == "grid" and trials:
        raise GenlabError(f"{where}: budget.trials is for random search; a grid runs all its points "
                          "(drop budget.trials, or use search.method: random)")
    beat = _mapping(raw, "heartbeat", ("interval_s", "grace_s"), where)
    interval = _int(beat.get("interval_s", 30), "heartbeat.interval_s", where, 1)
    grace = _int(beat.get("grace_s", max(120, 4 * interval)), "heartbeat.grace_s", where, 1)
    if grace <= interval:
        raise GenlabError(f"{where}: heartbeat.grace_s={grace} must exceed heartbeat.interval_s={interval} "
                          "(a live worker would look dead)")
    report = _mapping(raw, "report", ("group_by",), where)
    keys = [p.key for p in params]
    group_by = report.get("group_by", keys if method == "grid" else [])
    group_by = [group_by] if isinstance(group_by, str) else list(group_by or [])
    group_by = [str(k)[2:] if str(k).startswith("--") else str(k) for k in group_by]
    bad = [k for k in group_by if k not in keys]
    if bad:
        raise GenlabError(f"{where}: report.group_by names {bad[0]!r}, which is not searched; choose from "
                          f"{', '.join(keys) or '(no searched keys: drop group_by)'}")
    return StudySpec(name=name, model=raw["model"], data=raw["data"], config=raw.get("config"), base=base,
                     method=method, params=params, search_seed=_int(search.get("seed", 0), "search.seed", where),
                     seeds=_seeds(raw.get("seeds", 1), where), eval=_eval(raw, where), trials=trials,
                     max_retries=_int(budget.get("max_retries", 3), "budget.max_retries", where),
                     heartbeat_s=interval, grace_s=grace, group_by=tuple(group_by))


def _params(search: dict, method: str, where: str) -> tuple[Param, ...]:
    if "params" not in search:
        return ()
    given = search["params"]
    if not isinstance(given, dict) or not given:
        raise GenlabError(f"{where}: search.params is empty; list KEY: [values] (e.g. model.loss: [hinge, "
                          "wgan-gp]), or drop search: to run only the seeds")
    out = []
    for key, spec in given.items():
        k = _dotted(key, where + " search.params")
        if isinstance(spec, list):
            if not spec:
                raise GenlabError(f"{where}: search.params.{k} is an empty list; give at least one value")
            out.append(Param(k, "grid" if method == "grid" else "choice", tuple(spec)))
            continue
        if method == "grid" or not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
            want = "a list of values" if method == "grid" else f"a list or one of {{{', '.join(DISTRIBUTIONS)}: ...}}"
            raise GenlabError(f"{where}: search.params.{k}={spec!r} is invalid; expected {want}")
        kind, values = next(iter(spec.items()))
        out.append(_distribution(k, kind, values, where))
    return tuple(out)


def _distribution(key: str, kind: str, values: Any, where: str) -> Param:
    if kind == "choice":
        if not isinstance(values, list) or not values:
            raise GenlabError(f"{where}: search.params.{key}.choice must be a non-empty list")
        return Param(key, kind, tuple(values))
    ok = (isinstance(values, list) and len(values) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                                 for v in values) and values[0] < values[1])
    if ok and kind == "log_uniform":
        ok = values[0] > 0
    if ok and kind == "int":
        ok = all(float(v).is_integer() for v in values)
    if not ok:
        raise GenlabError(f"{where}: search.params.{key}.{kind}={values!r} is invalid; expected [low, high] with "
                          f"low < high{' and low > 0' if kind == 'log_uniform' else ''}")
    return Param(key, kind, tuple(values))


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise GenlabError(f"{where}: seeds={value} is invalid; give a count >= 1 or a list of seeds")
        return tuple(range(value))
    if (not isinstance(value, list) or not value or any(isinstance(s, bool) or not isinstance(s, int) for s in value)
            or len(set(value)) != len(value)):
        raise GenlabError(f"{where}: seeds={value!r} is invalid; give a count or a list of distinct integers")
    return tuple(value)


def _eval(raw: dict, where: str) -> EvalSpec:
    e = _mapping(raw, "eval", EVAL_KEYS, where)
    metrics = e.get("metrics", ["fid"])
    metrics = [m.strip() for m in metrics.split(",")] if isinstance(metrics, str) else list(metrics or [])
    bad = [m for m in metrics if m not in VALUES]
    if bad or not metrics:
        raise GenlabError(f"{where}: eval.metrics {bad[0] if bad else '(empty)'!r} is invalid; choose sample-"
                          f"quality metrics from {', '.join(VALUES)}")
    recorded = [v for m in metrics for v in VALUES[m] if v in MINIMIZE | MAXIMIZE]
    objective = e.get("objective", recorded[0])
    if objective not in recorded:
        raise GenlabError(f"{where}: eval.objective={objective!r} is not measured by eval.metrics; choose one of "
                          f"{', '.join(recorded)}")
    precision = e.get("precision", "auto")
    if precision not in ("auto", "fp32", "bf16"):
        raise GenlabError(f"{where}: eval.precision={precision!r} is invalid; expected auto, fp32 or bf16")
    split = e.get("split")
    return EvalSpec(metrics=tuple(dict.fromkeys(metrics)), n=_int(e.get("n", 10000), "eval.n", where, 2),
                    split=str(split) if split else None, extractor=str(e.get("extractor", "auto")),
                    seed=_int(e.get("seed", 0), "eval.seed", where), precision=precision, objective=objective,
                    batch=_int(e.get("batch", 250), "eval.batch", where, 1),
                    device=str(e["device"]) if e.get("device") else None)


# --- checks against the registries ------------------------------------------------------------------
def check_trials(spec: StudySpec, read_preset: Callable[[str], dict]) -> list[TrialPlan]:
    """Resolve every trial's config as `genlab train` would (unknown keys, models, losses and bad values
    are GenlabErrors naming the trial) and check the dataset and extractor names. Returns the plans."""
    from ..registry import DATASETS, EXTRACTORS, MODELS

    MODELS.entry(spec.model)
    DATASETS.entry(spec.data.partition(":")[0])
    if spec.eval.extractor != "auto":
        EXTRACTORS.entry(spec.eval.extractor)
    preset = read_preset(spec.config) if spec.config else {}
    if preset.get("model_name") not in (None, spec.model):
        raise GenlabError(f"study spec: preset {spec.config!r} is for model {preset['model_name']!r}, not "
                          f"{spec.model!r}; choose a {spec.model} preset")
    preset = {s: preset.get(s, {}) for s in SECTIONS}
    plans = spec.plans()
    spec.fingerprint()  # every value can be written as a --section.key=value override
    for plan in plans:
        try:
            resolve(spec.model, spec.layers(plan, preset))
        except GenlabError as e:
            raise GenlabError(f"study spec, trial {plan.name}: {e}") from None
    return plans
