"""Evaluation speed and reference figures for docs/benchmarks-eval.md.

    .venv/bin/python benchmarks/eval_speed.py speed --extractor fmnist-classifier --n 10000
    .venv/bin/python benchmarks/eval_speed.py speed --extractor inception --n 500     # throughput probe
    .venv/bin/python benchmarks/eval_speed.py table --extractor fmnist-classifier --n 10000
    .venv/bin/python benchmarks/eval_speed.py bf16 --n 1000      # inception FID fp32 vs bf16, same images

speed: `genlab eval --real fashion-mnist:test --fake train-subset.npz` as a subprocess (end-to-end, with
Python start-up), first with an empty reference cache, then with the cache filled.
table: FID/KID of Fashion-MNIST test vs a 10k random train subset, pixel noise and blurred copies.
Uses a temporary XDG_CACHE_HOME; prints markdown rows. Reports the 1-minute load average (shared CPU).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as tF

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from genlab.data import load_any, load_dataset  # noqa: E402
from genlab.metrics import features, functional as F  # noqa: E402


def _train_subset(n: int) -> torch.Tensor:
    return load_dataset("fashion-mnist:train").subset(n, seed=1).all()  # (n, 1, 28, 28) in [0, 1]


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = 3
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    x = tF.conv2d(tF.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))  # horizontal
    return tF.conv2d(tF.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))  # vertical


def speed(args, tmp: Path) -> None:
    fake = tmp / "fake.npz"
    np.savez(fake, x=(_train_subset(args.n) * 255).round().to(torch.uint8).numpy())
    cmd = [str(ROOT / ".venv/bin/genlab"), "eval", "--real", "fashion-mnist:test", "--fake", str(fake),
           "--n", str(args.n), "--extractor", args.extractor, "--metrics", args.metrics]
    for label in ("cold cache", "cached reference"):
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "XDG_CACHE_HOME": str(tmp)})
        dt = time.perf_counter() - t
        print(out.stdout.strip() or out.stderr.strip())
        print(f"| {args.extractor} | {args.n} | {label} | {dt:.1f} s | load {os.getloadavg()[0]:.1f} |", flush=True)


def table(args, tmp: Path) -> None:
    dev = torch.device("cpu")
    ext = features.build(args.extractor, dev)
    real = load_dataset("fashion-mnist:test").subset(args.n, seed=0).all()
    fr, _ = features.extract(ext, [real[i:i + 500] for i in range(0, len(real), 500)])
    base = _train_subset(args.n)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(base.shape, generator=g)
    rows = {"train (real vs real floor)": base, "train + N(0, 0.1^2) pixel noise": (base + 0.1 * noise).clamp(0, 1),
            "train + N(0, 0.3^2) pixel noise": (base + 0.3 * noise).clamp(0, 1),
            "train, Gaussian blur sigma=1": _blur(base, 1.0), "train, Gaussian blur sigma=2": _blur(base, 2.0)}
    if args.fake:
        rows[f"samples {args.fake}"] = load_any(args.fake).subset(args.n, seed=0).all()
    for label, x in rows.items():
        ff, _ = features.extract(ext, [x[i:i + 500] for i in range(0, len(x), 500)])
        m, s = F.kid(fr, ff, generator=torch.Generator().manual_seed(0))
        print(f"| {label} | {args.extractor} | {args.n} | {F.fid(fr, ff):.3f} | {m:.5f} ± {s:.5f} |", flush=True)


def bf16(args, tmp: Path) -> None:
    ext = features.build("inception", torch.device("cpu"))
    real = load_dataset("fashion-mnist:test").subset(args.n, seed=0).all()
    fake = _blur(_train_subset(args.n), 1.0)
    res = {}
    for name, flag in (("fp32", False), ("bf16", True)):
        t = time.perf_counter()
        fr, _ = features.extract(ext, [real[i:i + 50] for i in range(0, len(real), 50)], bf16=flag)
        ff, _ = features.extract(ext, [fake[i:i + 50] for i in range(0, len(fake), 50)], bf16=flag)
        dt = time.perf_counter() - t
        res[name] = F.fid(fr, ff)
        print(f"{name}: FID {res[name]:.4f}; {2 * args.n / dt:.1f} img/s (load {os.getloadavg()[0]:.1f})",
              flush=True)
    print(f"relative change bf16 vs fp32: {abs(res['bf16'] - res['fp32']) / res['fp32'] * 100:.3f}%")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("speed", "table", "bf16"))
    ap.add_argument("--extractor", default="fmnist-classifier")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--metrics", default="fid,kid")
    ap.add_argument("--fake", default=None, help="table: also a folder/.npz of model samples (e.g. from genlab sample)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as d:
        {"speed": speed, "table": table, "bf16": bf16}[args.mode](args, Path(d))


if __name__ == "__main__":
    main()
