"""Evaluation speed and reference figures for docs/benchmarks-eval.md.

    .venv/bin/python benchmarks/eval_speed.py speed --extractor fmnist-classifier --n 10000
    .venv/bin/python benchmarks/eval_speed.py speed --extractor inception --n 1000 [--precision bf16]
    .venv/bin/python benchmarks/eval_speed.py table --extractor fmnist-classifier --n 10000
    .venv/bin/python benchmarks/eval_speed.py table --extractor inception --rows train,noise0.1,blur1 --fake X.npz
    .venv/bin/python benchmarks/eval_speed.py bf16 --n 1000      # inception FID fp32 vs bf16, same images
    .venv/bin/python benchmarks/eval_speed.py bf16 --n 1000 --precisions fp32   # fp32 only (AVX2-only CPUs)
    .venv/bin/python benchmarks/eval_speed.py inception --n 10000 --n-fp32 5000 --fake VAE.npz \
        --features-dir /tmp/incfeat      # the inception FID table, in bf16, plus the fp32 check

speed: `genlab eval --real fashion-mnist:test --fake train-subset.npz` as a subprocess (end-to-end, with
Python start-up), first with an empty reference cache, then with the cache filled.
table: FID/KID of Fashion-MNIST test vs a 10k random train subset, pixel noise and blurred copies.
bf16: FID fp32 vs bf16 on the same n + n images, each precision's img/s, and (benchmarks/hardware.py) the
network's FLOPs per image (FlopCounterMode, one image at 299 x 299) as GFLOP/s and a share of that dtype's matmul peak.
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
sys.path.insert(0, str(ROOT / "benchmarks"))  # hardware.py

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
           "--n", str(args.n), "--extractor", args.extractor, "--metrics", args.metrics,
           "--precision", args.precision]
    for label in ("cold cache", "cached reference"):
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "XDG_CACHE_HOME": str(tmp)})
        dt = time.perf_counter() - t
        print(out.stdout.strip() or out.stderr.strip())
        print(f"| {args.extractor} ({args.precision}) | {args.n} | {label} | {dt:.1f} s | load {os.getloadavg()[0]:.1f} |", flush=True)


TABLE_ROWS = {"train": "train (real vs real floor)", "noise0.1": "train + N(0, 0.1^2) pixel noise",
              "noise0.3": "train + N(0, 0.3^2) pixel noise", "blur1": "train, Gaussian blur sigma=1",
              "blur2": "train, Gaussian blur sigma=2"}  # --rows name -> table label


def table(args, tmp: Path) -> None:
    bad = [r for r in (args.rows.split(",") if args.rows else []) if r not in TABLE_ROWS]
    if bad:  # before the real features, which take minutes with inception
        raise SystemExit(f"error: unknown --rows entry {bad[0]!r}; expected some of {','.join(TABLE_ROWS)}")
    dev = torch.device("cpu")
    ext = features.build(args.extractor, dev)
    real = load_dataset("fashion-mnist:test").subset(args.n, seed=0).all()
    fr, _ = features.extract(ext, [real[i:i + 500] for i in range(0, len(real), 500)])
    base = _train_subset(args.n)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(base.shape, generator=g)
    made = {"train": lambda: base, "noise0.1": lambda: (base + 0.1 * noise).clamp(0, 1),
            "noise0.3": lambda: (base + 0.3 * noise).clamp(0, 1),
            "blur1": lambda: _blur(base, 1.0), "blur2": lambda: _blur(base, 2.0)}
    rows = {TABLE_ROWS[r]: made[r]() for r in (args.rows.split(",") if args.rows else TABLE_ROWS)}
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
    timed = [n for n in ("fp32", "bf16") if n in args.precisions.split(",")]
    for name, flag in [(n, n == "bf16") for n in timed]:
        t = time.perf_counter()
        fr, _ = features.extract(ext, [real[i:i + 50] for i in range(0, len(real), 50)], bf16=flag)
        ff, _ = features.extract(ext, [fake[i:i + 50] for i in range(0, len(fake), 50)], bf16=flag)
        dt = time.perf_counter() - t
        res[name] = F.fid(fr, ff)
        res[f"{name}_rate"] = 2 * args.n / dt
        print(f"{name}: FID {res[name]:.4f}; {2 * args.n / dt:.1f} img/s (load {os.getloadavg()[0]:.1f})",
              flush=True)
    if len(timed) > 1:
        print(f"relative change bf16 vs fp32: {abs(res['bf16'] - res['fp32']) / res['fp32'] * 100:.3f}%")
    from torch.utils.flop_counter import FlopCounterMode

    from hardware import cpu_line, peaks, sizes

    # one image through the network with autograd on, so it takes the plain conv2d path the counter sees (the
    # fused oneDNN conv+ReLU kernels of inference do the same arithmetic, uncounted); the resize is not counted
    with FlopCounterMode(display=False) as counter, torch.enable_grad():
        ext.net(ext.prepare(real[:1]))
    per_img = counter.get_total_flops()
    pk = peaks()
    print(f"{cpu_line()}; {torch.get_num_threads()} threads; matmul peak ({sizes()}) fp32 {pk['fp32'] / 1e9:.0f} "
          f"GFLOP/s, bf16 {pk['bf16'] / 1e9:.0f}; inception = {per_img / 1e9:.2f} GFLOP per image")
    for name in timed:
        rate = res[f"{name}_rate"]
        print(f"{name}: {per_img * rate / 1e9:.0f} GFLOP/s = {100 * per_img * rate / pk[name]:.0f} % of the {name} "
              f"matmul peak; 10k images would take {1e4 / rate:.0f} s")


def inception_table(args, tmp: Path) -> None:
    """Inception rows of the FID table (bf16), and FID fp32 vs bf16 on the same images (the first
    n_fp32 of test and of each row). Features are kept in --features-dir so an interrupted run resumes."""
    ext = features.build("inception", torch.device("cpu"))
    keep = Path(args.features_dir or tmp)
    keep.mkdir(parents=True, exist_ok=True)

    def feats(label: str, x: torch.Tensor, bf16: bool) -> torch.Tensor:
        f = keep / f"{label}-{'bf16' if bf16 else 'fp32'}-{len(x)}.npy"
        if not f.exists():
            t = time.perf_counter()
            out, _ = features.extract(ext, [x[i:i + 200] for i in range(0, len(x), 200)], bf16=bf16)
            dt = time.perf_counter() - t
            print(f"# {label} {'bf16' if bf16 else 'fp32'}: {len(x)} images in {dt:.1f} s = {len(x) / dt:.1f} "
                  f"img/s (load {os.getloadavg()[0]:.1f})", flush=True)
            np.save(f, out.numpy())
        return torch.from_numpy(np.load(f))

    real = load_dataset("fashion-mnist:test").subset(args.n, seed=0).all()
    base = _train_subset(args.n)
    noise = torch.randn(base.shape, generator=torch.Generator().manual_seed(0))
    rows = {"train": base, "noise0.1": (base + 0.1 * noise).clamp(0, 1), "blur1": _blur(base, 1.0)}
    if args.fake:
        rows["samples"] = load_any(args.fake).subset(args.n, seed=0).all()
    m = args.n_fp32
    fr = feats("test", real, True)
    if m:  # the precision check first: it decides whether the bf16 rows below are admissible
        r32 = feats("test", real[:m], False)
        for label in [k for k in ("samples", "blur1") if k in rows][:1]:
            f32, f16 = feats(label, rows[label][:m], False), feats(label, rows[label], True)[:m]
            a, b = F.fid(r32, f32), F.fid(fr[:m], f16)
            print(f"| {label} vs test, {m} vs {m} | fp32 {a:.4f} | bf16 {b:.4f} | "
                  f"change {100 * abs(b - a) / a:.3f}% |", flush=True)
    for label, x in rows.items():
        ff = feats(label, x, True)
        k, ks = F.kid(fr, ff, generator=torch.Generator().manual_seed(0))
        print(f"| {label} | inception (bf16) | {args.n} | {F.fid(fr, ff):.3f} | {k:.5f} ± {ks:.5f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("speed", "table", "bf16", "inception"))
    ap.add_argument("--extractor", default="fmnist-classifier")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--metrics", default="fid,kid")
    ap.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                    help="speed: extractor precision passed to genlab eval")
    ap.add_argument("--precisions", default="fp32,bf16", choices=("fp32,bf16", "fp32", "bf16"),
                    help="bf16: which extractor precisions to time (fp32 alone on CPUs without bf16 instructions)")
    ap.add_argument("--n-fp32", type=int, default=5000, help="inception: images per side for fp32 vs bf16")
    ap.add_argument("--features-dir", default=None, help="inception: keep feature arrays here (resumable)")
    ap.add_argument("--rows", default=None, help="table: comma-separated subset of train,noise0.1,noise0.3,"
                    "blur1,blur2 (default: all)")
    ap.add_argument("--fake", default=None, help="table: also a folder/.npz of model samples (e.g. from genlab sample)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as d:
        {"speed": speed, "table": table, "bf16": bf16, "inception": inception_table}[args.mode](args, Path(d))


if __name__ == "__main__":
    main()
