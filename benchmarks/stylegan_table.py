"""StyleGAN measurements (issue 17): the Table 2 mixing effect, PPL in Z vs W (Table 4), stylegan vs the
dcgan preset at an equal CPU budget, ADA vs no augmentation on 2,000 images, and the figures.

    python benchmarks/stylegan_table.py [--root runs/stylegan] [--runs NAME,...] [--eval-only]
                                        [--n 10000] [--ppl-n 10000] [--steps N] [--figures docs/stylegan]

Runs (ordinary run directories under --root, one CPU thread each; an existing one is resumed, a finished
one is not retrained, so the script can be stopped and re-run across sessions):
- `fm-mix09`: stylegan on Fashion-MNIST (28 px padded to 32), defaults (mixing regularisation 0.9),
  3,000 steps of batch 32;
- `fm-mix0`: the same with `model.mixing_prob=0` (Table 2's ablation);
- `fm2k-ada` / `fm2k-none`: the first 2,000 training images (`data.limit=2000`), ADA vs no augmentation;
  `fm500-ada` / `fm500-none` the same on the first 500 for 10,000 steps (640 passes, for D to overfit);
  `fm200-ada` / `fm200-none` on the first 200 for 8,000 steps (1,280 passes);
- `dcgan-fm`: the `dcgan-fashion-mnist` preset (the demo GAN) trained for as many steps as cost the CPU time
  of `fm-mix09`'s 3,000 steps (pilots of both configurations measure CPU seconds per step, one thread);
- `photos64`: stylegan on 64 px RGB crops of the bundled photos (figures only), 1,500 steps.

Scores, all with the same protocol: Fréchet distance in `fmnist-classifier` features (fp32) of --n samples
(seed 0, EMA generator, ψ = 1) vs the --n first images of the Fashion-MNIST test split (all 10,000 by
default; the 2,000-image runs are scored against the same full test split). Table 2: FID of samples whose
styles come from 1, 2, 3 or 4 latents at distinct random crossovers (`model.sample_mixing`), for the run
with and without mixing regularisation; the paper reports the ratio to 1 latent. Table 4: PPL in Z and W
(metrics/ppl.py, --ppl-n paths each, fmnist-classifier as the distance). Training time: the sum of the
intervals between metrics.jsonl lines (steps · batch / samples_per_s), so resumed runs count every part.
Prints markdown tables and writes them to --root/table.md.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
GENLAB = [sys.executable, "-m", "genlab"]
COMMON = ["--train.threads=1", "--train.progress=false", "--train.ckpt_every=250", "--train.log_every=50"]
FM = ["stylegan", "--data", "fashion-mnist"]
RUNS = {
    "fm-mix09": FM,
    "fm-mix0": FM + ["--model.mixing_prob=0"],
    "fm2k-ada": FM + ["--data.limit=2000", "--model.augment=ada"],
    "fm2k-none": FM + ["--data.limit=2000", "--model.augment=none"],
    "fm500-ada": FM + ["--data.limit=500", "--model.augment=ada"],
    "fm500-none": FM + ["--data.limit=500", "--model.augment=none"],
    "fm200-ada": FM + ["--data.limit=200", "--model.augment=ada"],
    "fm200-none": FM + ["--data.limit=200", "--model.augment=none"],
    "dcgan-fm": ["--config", "dcgan-fashion-mnist"],
    "photos64": ["stylegan", "--data", "photos", "--data.size=64", "--data.n=4096"],
}
STEPS = {"fm-mix09": 3000, "fm-mix0": 3000, "fm2k-ada": 3000, "fm2k-none": 3000, "fm500-ada": 10000, "fm500-none": 10000,
         "fm200-ada": 8000, "fm200-none": 8000, "photos64": 1500}


def last_step(run: Path) -> int:
    latest = run / "checkpoints" / "latest.json"
    return json.loads(latest.read_text()).get("step", 0) if latest.is_file() else 0


def stamp(run: Path) -> str:
    """The key of a run's current weights in scores.json: name, step and the weights file's mtime."""
    return f"{run.name}@{last_step(run)}@{(run / 'model.safetensors').stat().st_mtime_ns}"


def train_seconds(run: Path) -> float:
    """Wall time inside the training loop: the sum over metrics.jsonl lines of steps · batch / samples_per_s."""
    import yaml

    batch = yaml.safe_load((run / "config.yaml").read_text())["train"]["batch_size"]
    total, prev = 0.0, 0
    for line in (run / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "samples_per_s" in rec and rec.get("samples_per_s"):
            step = rec["step"]
            if step > prev:
                total += (step - prev) * batch / rec["samples_per_s"]
                prev = step
    return total


def run_cli(cmd: list[str]) -> None:
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def train(root: Path, name: str, steps: int) -> None:
    run = root / name
    if last_step(run) >= steps:
        return
    if (run / "config.yaml").is_file():
        run_cli(GENLAB + ["train", "--resume", str(run), "--train.threads=1", f"--train.steps={steps}"])
    else:
        run_cli(GENLAB + ["train", *RUNS[name], *COMMON, f"--train.steps={steps}", "--out", str(run)])


def cpu_seconds_per_step(root: Path, name: str, short: int = 20, long: int = 80) -> float:
    """CPU seconds (user + system, one thread) per training step of run `name`'s configuration: two pilot
    runs of `short` and `long` steps, the difference of their CPU times over the difference of their steps
    (start-up, data loading and the final checkpoint cancel out). CPU time, not wall time, so the figure
    does not depend on what else the machine runs."""
    import resource

    used = []
    for steps in (short, long):
        pilot = root / f".pilot-{name}"
        shutil.rmtree(pilot, ignore_errors=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run_cli(GENLAB + ["train", *RUNS[name], *COMMON, f"--train.steps={steps}", "--train.sample_every=0",
                          "--out", str(pilot)])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        shutil.rmtree(pilot, ignore_errors=True)
    return (used[1] - used[0]) / (long - short)


def dcgan_steps(root: Path) -> int:
    """Steps of the dcgan preset that cost the CPU time of fm-mix09's steps: STEPS["fm-mix09"] times the ratio
    of their CPU seconds per step, both measured here by pilots (recorded in dcgan-fm.steps.json)."""
    record = root / "dcgan-fm.steps.json"
    if record.is_file():
        return json.loads(record.read_text())["steps"]
    sg, dc = cpu_seconds_per_step(root, "fm-mix09"), cpu_seconds_per_step(root, "dcgan-fm")
    steps = int(math.ceil(STEPS["fm-mix09"] * sg / dc / 50) * 50)
    record.write_text(json.dumps({"steps": steps, "stylegan_cpu_s_per_step": sg, "dcgan_cpu_s_per_step": dc,
                                  "stylegan_steps": STEPS["fm-mix09"],
                                  "budget_cpu_s": STEPS["fm-mix09"] * sg}) + "\n")
    print(f"dcgan-fm: {steps} steps (CPU s/step: stylegan {sg:.3f}, dcgan {dc:.3f})", flush=True)
    return steps


class Scorer:
    """FID (fmnist-classifier, fp32) of generated sets against one fixed real set, real features computed once."""

    def __init__(self, n: int):
        import genlab
        from genlab.metrics import FID

        self.n = n
        self.fid = FID("fmnist-classifier", precision="fp32", reset_real=False)
        real = genlab.load_dataset("fashion-mnist:test").subset(n).all()
        for batch in real.split(500):
            self.fid.update(batch, real=True)

    def __call__(self, model, seed: int = 0) -> float:
        import genlab

        self.fid.reset()
        for batch in genlab.sample(model, self.n, seed=seed).clamp(0, 1).split(500):
            self.fid.update(batch, real=False)
        return float(self.fid.compute())


def mixing_table(root: Path, scorer: Scorer, cache: dict) -> str:
    """FID of samples mixing 1-4 latents (sample seed 0), and the spread of the 1- and 2-latent FIDs and
    their ratio over sample seeds 0, 1, 2 (the same weights: how much of a difference is sampling noise)."""
    import statistics

    import genlab

    out = ["| run | steps | 1 latent | 2 latents | 3 | 4 | ratio 2/1 | ratio 4/1 | 1 / 2 latents / ratio, seeds 0-2 "
           "(mean ± sd) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, label in (("fm-mix09", "mixing regularisation 0.9"), ("fm-mix0", "no mixing regularisation")):
        run = root / name
        if last_step(run) < STEPS[name]:
            continue
        model = None
        key, key_seeds = f"{stamp(run)}:mixing{scorer.n}", f"{stamp(run)}:mixing-seeds{scorer.n}"
        for k_, ks, seeds in ((key, (1, 2, 3, 4), (0,)), (key_seeds, (1, 2), (1, 2))):
            if k_ in cache:
                continue
            model = model or genlab.load(run)
            vals = []
            for seed in seeds:
                for k in ks:
                    model.config.sample_mixing = k
                    vals.append(scorer(model, seed=seed))
                    print(f"  {name}: {k} latent(s), seed {seed}: FID {vals[-1]:.3f}", flush=True)
            cache[k_] = vals
        v, extra = cache[key], cache[key_seeds]
        one, two = [v[0], extra[0], extra[2]], [v[1], extra[1], extra[3]]
        ratio = [b / a for a, b in zip(one, two)]
        spread = " / ".join(f"{statistics.mean(x):.2f} ± {statistics.stdev(x):.2f}" for x in (one, two))
        out.append(f"| {name} ({label}) | {last_step(run)} | " + " | ".join(f"{x:.2f}" for x in v)
                   + f" | ×{v[1] / v[0]:.3f} | ×{v[3] / v[0]:.3f} | {spread} / "
                   f"×{statistics.mean(ratio):.3f} ± {statistics.stdev(ratio):.3f} |")
    return "\n".join(out)


def ppl_table(root: Path, n: int, cache: dict) -> str:
    import genlab
    from genlab.metrics.ppl import evaluate_ppl

    out = ["| run | steps | PPL in Z | PPL in W | W / Z |", "|---|---|---|---|---|"]
    for name in ("fm-mix09", "fm-mix0"):
        run = root / name
        if last_step(run) < STEPS[name]:
            continue
        key = f"{stamp(run)}:ppl{n}"
        if key not in cache:
            res = evaluate_ppl(genlab.load(run), n=n, extractor="fmnist-classifier", seed=0)
            cache[key] = [res["ppl_z"], res["ppl_w"]]
            print(f"  {name}: PPL Z {res['ppl_z']:.2f}, W {res['ppl_w']:.2f}", flush=True)
        z, w = cache[key]
        out.append(f"| {name} | {last_step(run)} | {z:.2f} | {w:.2f} | {w / z:.3f} |")
    return "\n".join(out)


def fid_table(root: Path, names: list[str], scorer: Scorer, cache: dict) -> str:
    import genlab
    import yaml

    out = ["| run | steps | images/step | training time (s) | FID (fmnist-classifier) |", "|---|---|---|---|---|"]
    for name in names:
        run = root / name
        if not (run / "model.safetensors").is_file():
            continue
        key = f"{stamp(run)}:fid{scorer.n}"
        if key not in cache and f"{stamp(run)}:mixing{scorer.n}" in cache:
            cache[key] = cache[f"{stamp(run)}:mixing{scorer.n}"][0]  # the same samples (1 latent, seed 0), scored
        if key not in cache:
            cache[key] = scorer(genlab.load(run))
            print(f"  {name}: FID {cache[key]:.3f}", flush=True)
        batch = yaml.safe_load((run / "config.yaml").read_text())["train"]["batch_size"]
        out.append(f"| {name} | {last_step(run)} | {batch} | {train_seconds(run):.0f} | {cache[key]:.2f} |")
    return "\n".join(out)


def overfit_note(root: Path, names: list[str]) -> str:
    """ADA's state at the end of each run: the overfitting signal r_t = E[sign(D(real))] (target 0.6) and the
    augmentation probability p, averaged over the last 500 steps of metrics.jsonl."""
    rows = []
    for name in names:
        path = root / name / "metrics.jsonl"
        if not path.is_file():
            continue
        recs = [json.loads(line) for line in path.read_text().splitlines()]
        last = [r for r in recs if "d_sign_real" in r and r["step"] > recs[-1]["step"] - 500]
        if not last:
            continue
        rt = sum(r["d_sign_real"] for r in last) / len(last)
        p = sum(r.get("augment_p", 0.0) for r in last) / len(last)
        rows.append(f"{name}: r_t {rt:.3f}, p {p:.3f}")
    return ("\n\nLast 500 steps (mean): " + "; ".join(rows)) if rows else ""


def budget_note(root: Path) -> str:
    record = root / "dcgan-fm.steps.json"
    if not record.is_file():
        return ""
    r = json.loads(record.read_text())
    return (f"\n\nBudget: {r['stylegan_steps']} stylegan steps x {r['stylegan_cpu_s_per_step']:.3f} CPU s = "
            f"{r['budget_cpu_s']:.0f} CPU s = {r['steps']} dcgan steps x {r['dcgan_cpu_s_per_step']:.3f} CPU s "
            "(pilots, one thread; the wall-clock training times above depend on the machine's load).")


def figures(root: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, tag in (("fm-mix09", "fmnist"), ("photos64", "photos")):
        run = root / name
        if not (run / "model.safetensors").is_file():
            continue
        run_cli(GENLAB + ["explore", str(run), "style-mix", "--coarse", "1,2,3,4", "--fine", "5,6,7,8,9",
                          "--out", str(out / f"{tag}-style-mix.png")])
        run_cli(GENLAB + ["explore", str(run), "style-mix", "--coarse", "1,2,3,4", "--fine", "5,6,7,8,9",
                          "--layers", "fine", "--out", str(out / f"{tag}-style-mix-fine.png")])
        run_cli(GENLAB + ["explore", str(run), "truncation", "--psi", "1,0.7,0.5,0.25,0", "--seeds", "0,1,2,3,4",
                          "--out", str(out / f"{tag}-truncation.png")])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=str(ROOT / "runs" / "stylegan"))
    ap.add_argument("--runs", default=",".join(RUNS), help="runs to train (default: all, in this order)")
    ap.add_argument("--eval-only", action="store_true", help="do not train; score what has finished")
    ap.add_argument("--n", type=int, default=10000, help="samples and test images per FID (default 10000)")
    ap.add_argument("--ppl-n", type=int, default=10000, help="path samples per space (default 10000)")
    ap.add_argument("--steps", type=int, default=0, help="steps of every stylegan run (default: 3000 on "
                    "Fashion-MNIST, 1500 on photos); a quick check of the script")
    ap.add_argument("--figures", default=None, help="write style-mixing and truncation grids to this folder")
    args = ap.parse_args()
    root = Path(args.root)
    if args.steps:
        STEPS.update({k: args.steps for k in STEPS})
    root.mkdir(parents=True, exist_ok=True)
    if not args.eval_only:
        for name in args.runs.split(","):
            if name not in RUNS:
                print(f"error: unknown run {name!r}; choose from {', '.join(RUNS)}", file=sys.stderr)
                return 2
            if name == "dcgan-fm":
                if last_step(root / "fm-mix09") < STEPS["fm-mix09"]:
                    print("dcgan-fm: waits for fm-mix09 (its budget is fm-mix09's training time)", flush=True)
                    continue
                train(root, name, dcgan_steps(root))
            else:
                train(root, name, STEPS[name])
    # scores.json: scores computed from the current weights, keyed by run, step and the weights file's mtime
    # (a retrained or resumed run is scored again); delete it to recompute everything
    cache_file = root / "scores.json"
    cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    scorer = Scorer(args.n)
    parts = [
        "Table 2 (FID of samples mixing k latents):\n\n" + mixing_table(root, scorer, cache),
        "Table 4 (perceptual path length, fmnist-classifier features):\n\n" + ppl_table(root, args.ppl_n, cache),
        "Equal CPU budget:\n\n" + fid_table(root, ["fm-mix09", "dcgan-fm"], scorer, cache) + budget_note(root),
        "Small data (2,000, 500 and 200 training images):\n\n"
        + fid_table(root, ["fm2k-none", "fm2k-ada", "fm500-none", "fm500-ada", "fm200-none", "fm200-ada"], scorer, cache)
        + overfit_note(root, ["fm2k-none", "fm2k-ada", "fm500-none", "fm500-ada", "fm200-none", "fm200-ada"]),
    ]
    cache_file.write_text(json.dumps(cache, indent=1) + "\n")
    text = "\n\n".join(parts) + (f"\n\nFID: {args.n} samples (seed 0, EMA G, ψ = 1) vs the first {args.n} "
                                 "Fashion-MNIST test images, fmnist-classifier features, fp32.")
    print(text)
    (root / "table.md").write_text(text + "\n")
    if args.figures:
        figures(root, Path(args.figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
