"""VAE training-step cost on Fashion-MNIST-shaped batches: bf16 autocast vs fp32, conv vs MLP.

Runs the same model's loss/backward/Adam step in one process and prints, per variant, wall time and
process CPU time per step (CPU time is robust when other jobs share the machine) and the bf16/fp32
ratio. Usage: python benchmarks/vae_step.py [--threads 1] [--steps 10] [--batch 128]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import genlab.components  # noqa: E402,F401
from genlab.config import resolve  # noqa: E402
from genlab.models.base import Batch, DataInfo  # noqa: E402
from genlab.runs import build_model  # noqa: E402


def step_cost(arch: str, precision: str, steps: int, batch: int) -> tuple[float, float]:
    cfg = resolve("vae", [{"model": {"arch": arch, "latent_dim": 16}}])
    model = build_model(cfg, DataInfo((1, 28, 28), 256, 10))
    x = torch.randint(0, 256, (batch, 1, 28, 28)).float() / 255
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for i in range(steps + 2):
        if i == 2:  # two warm-up steps
            w0, c0 = time.perf_counter(), time.process_time()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = model.loss(Batch(x, None, g))["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - w0) / steps, (time.process_time() - c0) / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.threads} thread(s), batch {a.batch}")
    for arch in ("conv", "mlp"):
        res = {p: step_cost(arch, p, a.steps, a.batch) for p in ("fp32", "bf16")}
        for p, (w, c) in res.items():
            print(f"{arch:4s} {p}: {1000 * w:6.1f} ms wall/step, {1000 * c:6.1f} ms CPU/step, "
                  f"{a.batch / w:6.0f} img/s wall")
        print(f"{arch:4s} bf16 speed-up (CPU time): {res['fp32'][1] / res['bf16'][1]:.2f}x")


if __name__ == "__main__":
    main()
