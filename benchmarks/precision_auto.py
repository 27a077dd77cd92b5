"""What `train.precision=auto` chooses on this CPU, and whether it chose right: per model, the trainer's own
one-step measurement (training/precision.py) beside real training steps at fp32 and at bf16, in one process.

    .venv/bin/python benchmarks/precision_auto.py [--steps 10] [--warmup 3] [--threads 0] [--setups a,b]

Setups (real data; the configurations of docs/restoration.md and the demo): srresnet (CPU-sized ×4: width 32,
8 blocks, batch 16 of 96 px photo crops), inpaint-photos (U-Net depth 5 base 64, batch 8 of 64 px crops),
inpaint-climate (COADS SST with the neighbouring months, depth 4 base 32, batch 4 of 90 × 180), dcgan (the
Fashion-MNIST preset's networks, batch 64). On a CPU with AMX or without bf16 arithmetic auto does not
measure (it prints the hardware rule's answer); the timings are still shown. Check `lscpu` first.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import genlab.components  # noqa: E402,F401
from genlab.config import resolve  # noqa: E402
from genlab.data import load_dataset  # noqa: E402
from genlab.runs import build_model  # noqa: E402
from genlab.training.precision import resolve_precision  # noqa: E402
from genlab.training.trainer import Trainer  # noqa: E402
from translation_speed import cpu_model  # noqa: E402

SETUPS = {  # model, data options, model options, batch
    "srresnet": ("srresnet", {"name": "photos", "size": 96, "n": 512},
                 {"scale": 4, "width": 32, "n_blocks": 8, "bicubic_skip": True}, 16),
    "inpaint-photos": ("inpaint", {"name": "photos", "size": 64, "n": 512}, {}, 8),
    "inpaint-climate": ("inpaint", {"name": "coads-holdout", "derive": "mask:coads:sst:0.2", "context": 1},
                        {"context_field": "x_months", "depth": 4, "base": 32, "max_channels": 256}, 4),
    "dcgan": ("dcgan", {"name": "fashion-mnist"}, {}, 64),
}


def config(name: str, precision: str, steps: int):
    model, dopts, mopts, batch = SETUPS[name]
    return resolve(model, [{"model": mopts, "data": dopts,
                            "train": {"steps": steps, "batch_size": batch, "precision": precision,
                                      "progress": False, "log_every": 10 ** 6, "ckpt_every": 10 ** 6, "seed": 0}}])


def step_s(cfg, data, warmup: int, steps: int) -> float:
    marks = {}

    def mark(tr, step):
        if step in (warmup, warmup + steps):
            marks[step] = time.perf_counter()

    Trainer(build_model(cfg, data.info), cfg.train, data, None, callbacks=(mark,)).fit()
    return (marks[warmup + steps] - marks[warmup]) / steps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = as set)")
    ap.add_argument("--setups", default=",".join(SETUPS))
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"CPU: {cpu_model()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    rule = resolve_precision("auto", torch.device("cpu"))
    print(f"auto on this CPU: {rule}")
    print("| setup | auto measured: fp32 / bf16 s per step | auto chose | training: fp32 s/step | bf16 s/step | "
          "bf16 / fp32 | right? |")
    print("|---|---|---|---|---|---|---|")
    for name in a.setups.split(","):
        cfg = config(name, "auto", a.warmup + a.steps)
        data = load_dataset(cfg.data.name, "train", **cfg.data.options())
        tr = Trainer(build_model(cfg, data.info), cfg.train, data, None)
        if tr.precision == "measure":
            chose, _ = tr._measure_precision()
            measured = f"{tr.precision_times['fp32']:.3f} / {tr.precision_times['bf16']:.3f}"
        else:
            chose, measured = tr.precision, "not measured (hardware rule)"
        t = {p: step_s(config(name, p, a.warmup + a.steps), data, a.warmup, a.steps) for p in ("fp32", "bf16")}
        best = "bf16" if t["bf16"] < t["fp32"] else "fp32"
        print(f"| {name} | {measured} | {chose} | {t['fp32']:.3f} | {t['bf16']:.3f} | {t['bf16'] / t['fp32']:.2f} | "
              f"{'yes' if chose == best or abs(t['bf16'] / t['fp32'] - 1) < 0.1 else 'no'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
