"""The pix2pix ablation (Isola et al. 2017, Tables 1 and 2) on real paired data, through the CLI.

Rows: L1 only (`model.adversarial=false`), cGAN only (`model.l1_weight=0`), L1 + cGAN with PatchGAN
receptive fields 1 / 16 / 70 / full. Every row is an ordinary run directory under --root; a row whose run
exists is resumed (a finished one is a no-op), so the script can be stopped and re-run across sessions.
Each finished row is evaluated with `genlab eval` on the whole test split (PSNR/SSIM/L1 on held-out pairs,
Fréchet distance and precision/recall in the domain's feature space, classifier label accuracy where the
domain has one) and the table is printed as markdown (and written to --root/table.md).

    python benchmarks/pix2pix_ablation.py --dataset fmnist-edges              # 32 px edges -> shoes
    python benchmarks/pix2pix_ablation.py --dataset photo-edges               # 128 px edges -> photo crops
    python benchmarks/pix2pix_ablation.py --dataset fmnist-edges --eval-only  # table of what has finished
    python benchmarks/pix2pix_ablation.py --eval-only --figure docs/translation/ablation-fmnist.png

Configs (stated with the table): Adam 2e-4 (0.5, 0.999), constant lr, batch 16 (fmnist, 2,000 steps) / 4 (photos, 1,500 steps),
U-Net base 16 with dropout 0.5, PatchGAN d_base 32, non-saturating loss, λ = 100, one CPU thread per run.
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

ROWS = {  # name -> model overrides
    "l1": ["--model.adversarial=false"],
    "cgan": ["--model.l1_weight=0"],
    "l1-cgan-1": ["--model.d_receptive_field=1"],
    "l1-cgan-16": ["--model.d_receptive_field=16"],
    "l1-cgan-70": [],
    "l1-cgan-full": ["--model.d_receptive_field=full"],
}
ORDER = ["l1-cgan-70", "l1", "cgan", "l1-cgan-16", "l1-cgan-1", "l1-cgan-full"]
LABELS = {"l1": "L1 only", "cgan": "cGAN only (70x70)", "l1-cgan-1": "L1 + cGAN, 1x1 (PixelGAN)",
          "l1-cgan-16": "L1 + cGAN, 16x16", "l1-cgan-70": "L1 + cGAN, 70x70", "l1-cgan-full": "L1 + cGAN, full image"}
DATASETS = {
    "fmnist-edges": ["--data", "fmnist-edges", "--model.depth=5", "--train.batch_size=16", "--train.steps=2000"],
    # 128 px, so that 16 < 70 < full (= 142) as in the paper's 256 px table (at 32 or 64 px, 70 already
    # covers the whole image)
    "photo-edges": ["--data", "photo-edges", "--data.size=128", "--model.depth=7", "--train.batch_size=4",
                    "--train.steps=1500"],
}
COMMON = ["--model.base=16", "--model.d_base=32", "--train.ckpt_every=250", "--train.log_every=50",
          "--train.progress=false", "--train.threads=1"]


def steps_of(dataset: str) -> int:
    return int(next(a for a in DATASETS[dataset] if a.startswith("--train.steps=")).split("=")[1])


def finished(run: Path, steps: int) -> bool:
    latest = run / "checkpoints" / "latest.json"
    return latest.is_file() and json.loads(latest.read_text()).get("step", 0) >= steps


def train(run: Path, dataset: str, row: str) -> None:
    if (run / "config.yaml").is_file():
        cmd = GENLAB + ["train", "--resume", str(run), "--train.threads=1", f"--train.steps={steps_of(dataset)}"]
    else:
        cmd = GENLAB + ["train", "pix2pix", *DATASETS[dataset], *COMMON, *ROWS[row], "--out", str(run)]
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def evaluate(run: Path) -> dict:
    from genlab.report.results import load_results

    recs = [r for r in load_results(run) if r.kind == "translation" and r.protocol.get("split", "").endswith(":test")
            and r.protocol.get("n_diverse") is None]
    step = json.loads((run / "checkpoints" / "latest.json").read_text()).get("step")
    recs = [r for r in recs if r.step == step]
    if not recs:
        t = time.time()
        subprocess.run(GENLAB + ["eval", str(run), "--split", "test"], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        print(f"  evaluated {run.name} in {time.time() - t:.0f} s", flush=True)
        recs = [r for r in load_results(run) if r.kind == "translation" and r.step == step]
    return {**recs[-1].values, "protocol": recs[-1].protocol, "step": recs[-1].step}


def table(results: dict[str, dict]) -> str:
    cols = [("PSNR dB", "psnr", 2), ("SSIM", "ssim", 3), ("L1", "l1", 4), ("FID", "fid", 2),
            ("precision", "precision", 3), ("recall", "recall", 3), ("label acc.", "source_label_accuracy", 3)]
    lines = ["| row | steps | " + " | ".join(c[0] for c in cols) + " |", "|---|---|" + "---|" * len(cols)]
    for row in ORDER:
        if row not in results:
            continue
        v = results[row]
        cells = []
        for _, key, nd in cols:
            x = v.get(key)
            se = v.get(f"{key}_se")
            cells.append("–" if x is None else (f"{x:.{nd}f} ± {se:.{nd}f}" if se else f"{x:.{nd}f}"))
        lines.append(f"| {LABELS[row]} | {v['step']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(root: Path, rows: list[str], out: Path, n: int = 8) -> Path:
    """Columns input | one output per row | target for the first n test pairs (labelled grid)."""
    import torch

    from genlab.data import load_dataset
    from genlab.runs import load_run
    from genlab.viz.labelled import labelled_grid

    runs = [load_run(root / r) for r in rows]
    d = runs[0].config.data
    test = load_dataset(d.name, "test", **d.options())
    b = test.batch(slice(0, n))
    a, target = b["a"], b["b"]
    outs = [r.model.translate(a, "AtoB") for r in runs]
    c = target.shape[1]
    cols = [a.expand(-1, c, -1, -1), *outs, target]  # each (n, C, H, W)
    grid_rows = [torch.stack([col[i] for col in cols]) for i in range(n)]
    short = {"l1": "L1", "cgan": "cGAN 70", "l1-cgan-1": "L1+cGAN 1", "l1-cgan-16": "L1+cGAN 16",
             "l1-cgan-70": "L1+cGAN 70", "l1-cgan-full": "L1+cGAN full"}
    return labelled_grid(grid_rows, out, col_labels=["input", *[short[r] for r in rows], "target"],
                         title=f"pix2pix ablation on {d.name}:test (first {n} test pairs)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", choices=sorted(DATASETS), default="fmnist-edges")
    ap.add_argument("--root", default=None, help="where the runs live (default runs/ablation/DATASET)")
    ap.add_argument("--eval-only", action="store_true", help="do not train; tabulate the finished rows")
    ap.add_argument("--rows", default=",".join(ORDER), help="comma-separated rows")
    ap.add_argument("--figure", default=None, help="also draw input | each row | target for 8 test pairs (PNG)")
    args = ap.parse_args()
    root = Path(args.root or ROOT / "runs" / "ablation" / args.dataset)
    results = {}
    for row in args.rows.split(","):
        run = root / row
        if not args.eval_only and not finished(run, steps_of(args.dataset)):
            train(run, args.dataset, row)
        if finished(run, steps_of(args.dataset)):
            results[row] = evaluate(run)
    out = table(results)
    if results:
        proto = next(iter(results.values()))["protocol"]
        out += (f"\n\nTest split {proto['split']} (n = {proto['n']}), features: {proto.get('extractor')} "
                f"(crop {proto.get('crop', 0)} px), mean ± standard error over test images.")
    print(out)
    root.mkdir(parents=True, exist_ok=True)
    (root / "table.md").write_text(out + "\n")
    if args.figure and results:
        print("figure:", figure(root, [r for r in ORDER if r in results], Path(args.figure)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
