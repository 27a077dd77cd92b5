"""Training-step speed of the translation models: fp32 vs bf16 autocast, NCHW vs channels-last, in one process.

    .venv/bin/python benchmarks/translation_speed.py [--steps 20] [--warmup 5] [--threads 0] [--models pix2pix,cyclegan]

Each configuration trains the same model (fresh weights, same seed) through the genlab Trainer on real data
(pix2pix: fmnist-edges 32 px, U-Net base 16 depth 5, PatchGAN 70, batch 16; cyclegan: fmnist-unpaired
sneaker <-> ankle boot, ResNet base 16 with 6 blocks, PatchGAN d_layers 2, batch 8) and reports ms per
training step (D and G phases) and examples/s, with the ratio to the fp32 NCHW reference measured in the
same process. bf16 pays off only where the CPU has bf16 matrix units (AMX, AVX-512 BF16) — check
`lscpu`; on AVX2-only CPUs PyTorch emulates it and it is slower.
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import genlab.components  # noqa: E402,F401
from genlab.config import resolve  # noqa: E402
from genlab.data import load_dataset  # noqa: E402
from dcgan_speed import trainer_rate  # noqa: E402  (the same timed Trainer run)

SETUPS = {
    "pix2pix": ("fmnist-edges", {}, {"base": 16, "depth": 5, "d_base": 32}, 16),
    "cyclegan": ("fmnist-unpaired", {}, {"base": 16, "n_blocks": 6, "d_base": 32, "d_layers": 2}, 8),
}


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
        flags = next((line for line in out.splitlines() if line.startswith("Flags")), "")
        extra = [f for f in ("amx_bf16", "avx512_bf16", "avx512f", "avx2") if f in flags.split()]
        return f"{name} ({', '.join(extra)})"
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def step_ms(model_name: str, precision: str, channels_last: bool, warmup: int, steps: int) -> float:
    dataset, dopts, mopts, batch = SETUPS[model_name]
    cfg = resolve(model_name, [{"model": mopts, "data": {"name": dataset, **dopts},
                                "train": {"steps": warmup + steps, "batch_size": batch, "precision": precision,
                                          "channels_last": channels_last, "progress": False, "log_every": 10 ** 6,
                                          "ckpt_every": 10 ** 6, "seed": 0}}])
    data = load_dataset(dataset, "train", **cfg.data.options())
    return 1000 * batch / trainer_rate(cfg, data, warmup, steps)  # examples/s -> ms per step


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--models", default="pix2pix,cyclegan")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_model()}; torch {torch.__version__}; {torch.get_num_threads()} threads")
    print("| model | precision | layout | ms/step | examples/s | vs fp32 NCHW |")
    print("|---|---|---|---|---|---|")
    for name in args.models.split(","):
        ref = None
        for precision, cl in (("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True)):
            ms = step_ms(name, precision, cl, args.warmup, args.steps)
            ref = ref or ms
            batch = SETUPS[name][3]
            print(f"| {name} | {precision} | {'channels-last' if cl else 'NCHW'} | {ms:.1f} | "
                  f"{1000 * batch / ms:.1f} | {ref / ms:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
