"""CycleGAN and Augmented CycleGAN on Fashion-MNIST domains, through the CLI (issue 14, points 2 and 3).

Runs (each an ordinary run directory under --root; an existing one is resumed, a finished one is not
retrained, so the script can be stopped and re-run across sessions):
- `cyclegan-sneaker-boot`: cyclegan, sneaker <-> ankle boot (`fmnist-unpaired` defaults).
- `augcg-edges-shoes`: augmented-cyclegan, Canny edge maps of shoes -> shoes (`data.edges=a`, disjoint
  halves), one-sided (`za_dim=0`, the reference's edges2shoes model): one edge map, many shoes.
- `cyclegan-edges-shoes`: cyclegan on the same task, the deterministic reference for diversity.
Each finished run is evaluated with `genlab eval RUN --samples K` on the whole test split: target-class
accuracy and label keeping by `fmnist-classifier`, cycle L1, Fréchet distance, and the diversity of K
outputs per input; a markdown table is printed and written to --root/table.md.

    python benchmarks/unpaired_translation.py [--eval-only] [--runs NAME,...] [--samples 6]

Configs: ResNet G base 16 (cyclegan: 6 blocks, batch 8; augmented: 3 blocks, batch 16), PatchGAN with
d_layers 2 (34 px patches on 32 px images), 3,000 steps (cyclegan sneaker <-> boot) or 2,000 (edges ->
shoes), lr 2e-4 constant for half, then linear to 0, one CPU thread per run.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENLAB = [sys.executable, "-m", "genlab"]
COMMON = ["--train.threads=1", "--train.progress=false", "--train.ckpt_every=250"]
RUNS = {
    "cyclegan-sneaker-boot": ["cyclegan", "--data", "fmnist-unpaired", "--model.base=16", "--model.n_blocks=6",
                              "--model.d_base=32", "--model.d_layers=2", "--train.batch_size=8"],
    "augcg-edges-shoes": ["augmented-cyclegan", "--data", "fmnist-unpaired", "--data.a=shoes", "--data.b=shoes",
                          "--data.edges=a", "--model.za_dim=0", "--model.base=16", "--model.n_blocks=3",
                          "--model.d_layers=2", "--train.batch_size=16"],
    "cyclegan-edges-shoes": ["cyclegan", "--data", "fmnist-unpaired", "--data.a=shoes", "--data.b=shoes",
                             "--data.edges=a", "--model.identity_weight=0", "--model.base=16", "--model.n_blocks=6",
                             "--model.d_base=32", "--model.d_layers=2", "--train.batch_size=8"],
}
STEPS = {"cyclegan-sneaker-boot": 3000, "augcg-edges-shoes": 2000, "cyclegan-edges-shoes": 2000}


def finished(run: Path) -> bool:
    latest = run / "checkpoints" / "latest.json"
    return latest.is_file() and json.loads(latest.read_text()).get("step", 0) >= STEPS[run.name]


def train(run: Path, name: str) -> None:
    if (run / "config.yaml").is_file():
        cmd = GENLAB + ["train", "--resume", str(run), "--train.threads=1", f"--train.steps={STEPS[name]}"]
    else:
        cmd = GENLAB + ["train", *RUNS[name], *COMMON, f"--train.steps={STEPS[name]}", "--out", str(run)]
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def evaluate(run: Path, k: int) -> list:
    from genlab.report.results import load_results

    step = json.loads((run / "checkpoints" / "latest.json").read_text())["step"]

    def mine():
        return [r for r in load_results(run) if r.kind == "translation" and r.step == step
                and r.protocol.get("samples_per_input") == k and r.protocol.get("split", "").endswith(":test")]

    if not mine():
        t = time.time()
        subprocess.run(GENLAB + ["eval", str(run), "--split", "test", "--samples", str(k)], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        print(f"  evaluated {run.name} in {time.time() - t:.0f} s", flush=True)
    return mine()


def table(rows: dict[str, list]) -> str:
    cols = [("target class", "target_class_accuracy", 3), ("keeps label", "source_label_accuracy", 3),
            ("cycle L1", "cycle_l1", 4), ("FID", "fid", 2), ("precision", "precision", 3), ("recall", "recall", 3),
            ("diversity L1", "diversity_l1", 4), ("diversity feat.", "diversity_feature", 3)]
    out = ["| run | direction | steps | " + " | ".join(c[0] for c in cols) + " |", "|---|---|---|" + "---|" * len(cols)]
    for name, recs in rows.items():
        for r in sorted(recs, key=lambda r: r.protocol["direction"]):
            cells = ["–" if r.values.get(key) is None else f"{r.values[key]:.{nd}f}" for _, key, nd in cols]
            out.append(f"| {name} | {r.protocol['source']} → {r.protocol['target']} ({r.protocol['direction']}) | "
                       f"{r.step} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=str(ROOT / "runs" / "cycle"))
    ap.add_argument("--runs", default=",".join(RUNS))
    ap.add_argument("--samples", type=int, default=6, help="outputs per input for the diversity (default 6)")
    ap.add_argument("--eval-only", action="store_true")
    args = ap.parse_args()
    root = Path(args.root)
    rows = {}
    for name in args.runs.split(","):
        run = root / name
        if not args.eval_only and not finished(run):
            train(run, name)
        if finished(run):
            rows[name] = evaluate(run, args.samples)
    out = table(rows) + (f"\n\nTest splits of fmnist-unpaired (whole), fmnist-classifier features (crop 2 px); "
                         f"diversity over the first 100 test inputs, {args.samples} outputs each.")
    print(out)
    root.mkdir(parents=True, exist_ok=True)
    (root / "table.md").write_text(out + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
