"""What the CPU at hand can do, measured in the calling process: the matmul peak per dtype, to report a
benchmark's achieved FLOP/s as a share of it (issue 19), and the CPU's name and bf16 flags from lscpu.

    .venv/bin/python benchmarks/hardware.py [--threads 0]      # prints the CPU line and both peaks
"""
from __future__ import annotations

import argparse
import subprocess
import time

import torch


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of the best of `repeats` n x n @ n x n matmuls (2 n^3 FLOPs each) in `dtype`, on torch's threads."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b  # warm-up (kernel selection, packing buffers)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def peaks() -> dict[str, float]:
    return {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}


def cpu_line() -> str:
    """'MODEL NAME; bf16 flags: ...' from lscpu (AMX and AVX-512 BF16 decide what bf16 autocast buys)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "lscpu unavailable"
    name = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "?")
    flags = next((ln.split(":", 1)[1].split() for ln in out.splitlines() if ln.startswith("Flags")), [])
    bf16 = [f for f in flags if f in ("amx_bf16", "amx_tile", "avx512_bf16", "avx512_vnni")]
    return f"{name}; bf16 flags: {' '.join(bf16) or 'none'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    p = peaks()
    print(f"{cpu_line()}; {torch.get_num_threads()} threads: matmul 2048^3 best of 5: fp32 {p['fp32'] / 1e9:.0f} "
          f"GFLOP/s, bf16 {p['bf16'] / 1e9:.0f} GFLOP/s ({p['bf16'] / p['fp32']:.2f}x)")


if __name__ == "__main__":
    main()
