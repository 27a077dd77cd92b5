"""The physics metrics and the classifier two-sample test (c2st) of `genlab eval`: between two sets
(--real/--fake) and between a run's samples and its eval split (genlab/metrics/physics.py,
genlab/metrics/c2st.py). Both see the sets in physical units through genlab/metrics/field_sets.py; c2st
gets them in the real set's model space (standardised fields, images in [0, 1])."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from ..metrics import field_sets as fsets
from ..metrics import physics
from ..training.checkpoint import atomic_write_text
from .common import progress, say

C2ST = "c2st"


def say_physics(res: dict) -> None:
    for line in physics.summary_lines(res):
        say(line)
    p = res.get("protocol", {})
    say("protocol: " + "; ".join(f"{k}={p[k]}" for k in ("real", "fake", "n_real", "n_fake", "seed", "space",
                                                         "periodic_axes") if k in p))


def say_c2st(res: dict) -> None:
    for k, v in res.items():
        if k != "protocol" and not isinstance(v, (dict, list)):
            say(f"c2st {k}: {v:.4f}" if isinstance(v, float) else f"c2st {k}: {v}")


def _c2st(real: fsets.FieldSet, fake: fsets.FieldSet, *, seed: int, dev: torch.device) -> dict:
    """The two-sample test on both sets in the real set's model space."""
    from ..metrics.c2st import c2st

    if real.valid is not None or fake.valid is not None:
        raise GenlabError(f"c2st needs gap-free fields but {real.name if real.valid is not None else fake.name} "
                          "has gaps (a validity mask); the classifier would only learn where the gaps are")
    fake = fsets.check_pair(real, fake)
    with progress(0, "eval c2st") as bar:
        res = c2st(real.to_model(), fake.to_model(), seed=seed, device=dev, periodic=real.periodic, progress=bar)
    res = dict(res)
    res["protocol"] = {**dict(res.get("protocol") or {}), "real": real.name, "fake": fake.name,
                       "n_real": len(real.values), "n_fake": len(fake.values), "seed": seed,
                       "space": "model space of the real set (standardised fields; images in [0, 1])"}
    return res


def pair(args, metrics: list[str], dev: torch.device, json_out: Optional[Path]) -> int:
    """genlab eval --real A --fake B with physics metrics and/or c2st (`metrics` may be ['default'])."""
    from ..data import load_any

    n = args.n or None
    real = fsets.from_dataset(load_any(args.real), args.real, n)
    fake = fsets.from_dataset(load_any(args.fake), args.fake, n)
    wanted = physics.default_metrics(real) if metrics == ["default"] else [m for m in metrics if m != C2ST]
    out: dict = {}
    if wanted:
        res, curves = physics.evaluate(real, fake, wanted, seed=args.seed)
        say_physics(res)
        out["physics"] = {**res, "curves": physics.jsonable(curves)}
    if C2ST in metrics:
        out["c2st"] = _c2st(real, fake, seed=args.seed, dev=dev)
        say_c2st(out["c2st"])
    if json_out:
        atomic_write_text(json_out, json.dumps(out, indent=2))
    return 0


def check_run(r, data, metrics: list[str], n: int = 0) -> None:
    """Refuse, before any evaluation, physics metrics or c2st a run cannot have (n: --n, 0 = default)."""
    if r.model.conditional or r.model.directions:
        raise GenlabError(f"model {r.config.model_name!r} maps inputs to outputs, so it has no unconditional "
                          f"samples for {', '.join(metrics)}; write its outputs (genlab translate) and compare "
                          "them with genlab eval --real PATH --fake PATH")
    fsets.check_spatial(data.specs[data.primary], f"{data.name}:{data.split}")
    if C2ST in metrics:
        try:
            from ..metrics.c2st import MIN_PER_CLASS as least
        except ImportError:
            least = 2
        have = min(n or 10000, len(data))
        if have < least:
            raise GenlabError(f"c2st needs at least {least} real and {least} generated examples; {data.name}:"
                              f"{data.split} gives {have} with --n {n or 'default'}; use a larger --n or eval split")
    asked = [m for m in metrics if m not in (C2ST, "default")]
    if asked:
        physics.check_metrics(asked)
    if "convection" in asked:
        spec = data.specs[data.primary]
        physics.check_convection(fsets.FieldSet(f"{data.name}:{data.split}", np.zeros((0, *spec.shape)), spec,
                                                simulation=dict(data.meta.get("simulation") or {})))


def run_metrics(args, r, data, metrics: list[str], dev: torch.device) -> tuple[dict, dict]:
    """Samples of a loaded run vs its eval split: ({kind: result}, {metric: curves}); kinds physics, c2st.
    n = --n or 10000, at most the split's size; as many samples as real examples."""
    from ..runs import draw

    split = f"{data.name}:{data.split}"
    real = fsets.from_dataset(data, split, min(args.n or 10000, len(data)))
    with progress(len(real.values), "eval samples") as bar, torch.inference_mode():
        x = draw(r.model, len(real.values), args.seed, dev, progress=bar)
    fake = fsets.from_samples(x, r.info.spec, "samples of this run", real.simulation)
    results, curves = {}, {}
    wanted = physics.default_metrics(real) if metrics == ["default"] else [m for m in metrics if m != C2ST]
    if wanted:
        res, curves = physics.evaluate(real, fake, wanted, seed=args.seed)
        res["protocol"]["split"] = split
        say_physics(res)
        results["physics"] = res
    if C2ST in metrics:
        res = _c2st(real, fake, seed=args.seed, dev=dev)
        res["protocol"]["split"] = split
        say_c2st(res)
        results["c2st"] = res
    return results, curves


def save_run_plots(run_dir: Path, curves: dict, res: dict, r) -> None:
    """RUN/physics/<metric>.png (+ index.json captions) and curves.json with the step and protocol."""
    if not curves:
        return
    from ..viz.physics import save_plots

    folder = Path(run_dir) / "physics"
    proto = res.get("protocol", {})
    title = (f"{r.config.model_name} step {r.step}{' EMA' if r.ema else ''} vs {proto.get('real')} "
             f"(n {proto.get('n_fake')} / {proto.get('n_real')})")
    save_plots(curves, folder, title=title, command=f"genlab eval {run_dir} --metrics {proto.get('metrics')}")
    atomic_write_text(folder / "curves.json", json.dumps(
        {"step": r.step, "ema": r.ema, "protocol": proto, "curves": physics.jsonable(curves)}, indent=1))
