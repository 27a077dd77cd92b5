"""Where a trial's score lives: the `genlab eval` record in TRIAL/metrics.json that matches the study's
protocol at the trial's last step. The runner reads it to report the trial's value to Optuna and the
report reads it for the table, so both show exactly the recorded numbers."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..report.results import Record, load_results
from .spec import StudySpec

KIND = "samples"


def eval_options(spec: StudySpec, run_dir: Path) -> dict:
    """The resolved evaluation of one trial: split (the run's eval split unless given), extractor (genlab
    eval's default for the run's image shape unless given), and the rest of the spec's protocol."""
    from ..metrics.quality import default_extractor
    from ..runs import read_config, read_data_info

    cfg = read_config(run_dir)
    info, _ = read_data_info(run_dir)
    e = spec.eval
    return {"split": e.split or cfg.data.eval_split, "data": cfg.data.name, "steps": cfg.train.steps,
            "extractor": e.extractor if e.extractor != "auto" else default_extractor(tuple(info.shape))}


def eval_argv(spec: StudySpec, run_dir: Path) -> list[str]:
    """`genlab eval` arguments of a trial."""
    o, e = eval_options(spec, run_dir), spec.eval
    argv = ["eval", str(run_dir), "--metrics", ",".join(e.metrics), "--n", str(e.n), "--split", o["split"],
            "--seed", str(e.seed), "--extractor", o["extractor"], "--precision", e.precision,
            "--batch", str(e.batch)]
    return argv + (["--device", e.device] if e.device else [])


def find(spec: StudySpec, run_dir: Path) -> Optional[Record]:
    """The newest sample-quality record of this protocol at the trial's final step, or None."""
    from ..metrics.quality import METRICS

    if not all((Path(run_dir) / f).is_file() for f in ("config.yaml", "data_info.json")):
        return None
    o, e = eval_options(spec, run_dir), spec.eval
    want = {"real": f"{o['data']}:{o['split']}", "n_fake": e.n, "seed": e.seed, "extractor": o["extractor"],
            "metrics": ",".join(m for m in METRICS if m in e.metrics)}
    for r in reversed(load_results(run_dir)):
        if r.kind != KIND or r.step != o["steps"] or any(r.protocol.get(k) != v for k, v in want.items()):
            continue
        if e.precision != "auto" and not str(r.protocol.get("precision", "")).startswith(e.precision):
            continue
        if e.objective in r.values:
            return r
    return None
