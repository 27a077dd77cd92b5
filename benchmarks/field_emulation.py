"""One table of physics metrics and the classifier two-sample test for emulators of a field data set
(issue 16: a GAN vs a VAE vs a flow on log-normal maps; the convection emulator), with two reference
rows computed by the same code:

- "real train vs real test": held-out real maps against other real maps — the floor every metric
  reaches at this n (sampling noise), and C2ST ≈ 0.5;
- "Gaussian surrogate": Gaussian random fields with the training set's mean field and mean 2-D power
  spectrum (metrics/c2st.py gaussian_surrogate) — the spectrum matches by construction, so what catches
  it (histogram, Minkowski functionals, peaks, C2ST) is the non-Gaussian structure; C2ST must reach it.

Each run is evaluated with `genlab eval RUN --metrics M` (kept in RUN/metrics.json with its protocol;
skipped when a record of that protocol at the run's last step exists), then tabulated.

    .venv/bin/python benchmarks/field_emulation.py --runs runs/lognormal/dcgan,runs/lognormal/vae,runs/lognormal/glow
    .venv/bin/python benchmarks/field_emulation.py --runs RUN [--metrics spectrum,histogram,minkowski,peaks,c2st]
                                                   [--out table.md] [--no-baselines]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DEFAULT = "spectrum,histogram,minkowski,peaks,c2st"


def _latest(run: Path, kind: str, step: int):
    from genlab.report.results import load_results

    recs = [r for r in load_results(run) if r.kind == kind and r.step == step]
    return recs[-1] if recs else None


def _step(run: Path) -> int:
    return int(json.loads((run / "checkpoints" / "latest.json").read_text())["step"])


def evaluate_run(run: Path, metrics: str) -> tuple[dict, dict]:
    step = _step(run)
    phys, c2 = _latest(run, "physics", step), _latest(run, "c2st", step)
    want_c2 = "c2st" in metrics.split(",")
    if phys is None or (want_c2 and c2 is None):
        t = time.time()
        subprocess.run([sys.executable, "-m", "genlab", "eval", str(run), "--metrics", metrics], check=True,
                       cwd=ROOT, stdout=subprocess.DEVNULL)
        print(f"  evaluated {run} in {time.time() - t:.0f} s", file=sys.stderr)
        phys, c2 = _latest(run, "physics", step), _latest(run, "c2st", step)
    return (phys.values if phys else {}), (c2.values if c2 else {})


def baselines(run: Path, metrics: str, seed: int = 0, which: str = "both") -> dict[str, tuple[dict, dict]]:
    """The two reference rows on the run's data (eval split vs train split / vs a Gaussian surrogate);
    which = real | surrogate | both."""
    from genlab.data import load_dataset
    from genlab.metrics import field_sets as fsets, physics
    from genlab.metrics.c2st import c2st, gaussian_surrogate
    from genlab.runs import load_run

    r = load_run(str(run))
    d = r.config.data
    test = load_dataset(d.name, d.eval_split, **d.options())
    train = load_dataset(d.name, "train", **d.options())
    n = len(test)
    real = fsets.from_dataset(test, f"{d.name}:{d.eval_split}")
    names = [m for m in metrics.split(",") if m != "c2st"]
    rows = {}
    other = fsets.from_dataset(train, f"{d.name}:train", n, seed=seed)
    spec = test.info.spec
    surrogate_model = gaussian_surrogate(train.x.float(), n, seed=seed)  # physical units in, physical out
    surrogate = fsets.FieldSet("gaussian surrogate", surrogate_model.double().numpy(), spec, None, {})
    pairs = [("real", "real train vs real test", other), ("surrogate", "Gaussian surrogate (same mean spectrum)", surrogate)]
    for key, label, fake in pairs:
        if which not in (key, "both"):
            continue
        res, _ = physics.evaluate(real, fake, names, seed=seed)
        c = c2st(real.to_model(), fake.to_model(), seed=seed, periodic=real.periodic) if "c2st" in metrics else {}
        rows[label] = (res, c)
        print(f"  baseline {label}: done", file=sys.stderr)
    return rows


def _cells(phys: dict, c2: dict, ch: str) -> list[str]:
    def get(metric, key, fmt="{:.3g}"):
        try:
            return fmt.format(phys[metric][ch][key])
        except (KeyError, TypeError):
            return "–"

    cells = [get("spectrum", "max_rel_err_k_le_n4", "{:.1%}"), get("histogram", "ks", "{:.4f}"),
             get("histogram", "w1_over_sigma", "{:.3f}"), get("histogram", "chi2", "{:.4f}"),
             "/".join(get("minkowski", f"v{i}_max_gap", "{:.2f}") for i in range(3)), get("peaks", "max_gap", "{:.2f}")]
    if c2:
        cells.append(f"{c2['accuracy']:.3f} (p {c2['p_value']:.2g}, {c2['n_pairs']} pairs)")
    else:
        cells.append("–")
    return cells


def table(rows: dict[str, tuple[dict, dict]]) -> str:
    channels = []
    for phys, _ in rows.values():
        for m in phys.values():
            if isinstance(m, dict):
                channels += [c for c in m if c not in channels and isinstance(m[c], dict)]
    head = ["row", "channel", "spectrum max rel. err. (k ≤ N/4)", "KS", "W1 / σ_real", "χ²",
            "Minkowski V0/V1/V2 max gap (σ)", "peaks max gap (σ)", "C2ST accuracy"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, (phys, c2) in rows.items():
        for ch in channels:
            lines.append("| " + " | ".join([label, ch] + _cells(phys, c2, ch)) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", required=True, help="comma-separated run directories (same data set)")
    ap.add_argument("--metrics", default=DEFAULT, help=f"metrics for genlab eval (default {DEFAULT})")
    ap.add_argument("--out", default=None, help="also write the markdown table here")
    ap.add_argument("--no-baselines", action="store_true", help="skip the two reference rows")
    ap.add_argument("--baselines", choices=("both", "real", "surrogate"), default="both",
                    help="which reference rows (default both)")
    ap.add_argument("--baselines-only", action="store_true", help="only the reference rows (the runs give the data)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    runs = [Path(r) for r in args.runs.split(",") if r]
    rows: dict[str, tuple[dict, dict]] = {}
    for run in ([] if args.baselines_only else runs):
        cfg = (run / "config.yaml").read_text()
        model = next((ln.split(":", 1)[1].strip() for ln in cfg.splitlines() if ln.startswith("model_name:")),
                     run.name)
        rows[f"{model} ({run.name}, step {_step(run)})"] = evaluate_run(run, args.metrics)
    if not args.no_baselines:
        rows.update(baselines(runs[0], args.metrics, which=args.baselines))
    text = table(rows)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
