"""What the CPU at hand can do, measured in the calling process: the matmul peak per dtype, to report a
benchmark's achieved FLOP/s as a share of it (issue 19), and the CPU's name and bf16 flags from lscpu.

    .venv/bin/python benchmarks/hardware.py [--threads 0]      # prints the CPU line and both peaks
"""
from __future__ import annotations

import argparse
import subprocess
import time

import torch


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5, max_s: float = 1.0) -> float:
    """FLOP/s of the best of `repeats` m x m @ m x m matmuls (2 m^3 FLOPs each) in `dtype`, on torch's threads.
    m grows from 256 to n, doubling only while the next, 8x dearer product would take under `max_s`
    (so 2048 for fp32 everywhere we have measured): a CPU without bf16 instructions (AVX2 only) runs bf16 matmuls in a
    slow reference kernel, and 2048^3 there takes minutes for a number that 512^3 already gives."""
    m = min(256, n)
    while True:
        a, b = torch.randn(m, m).to(dtype), torch.randn(m, m).to(dtype)
        t = time.perf_counter()
        a @ b  # also the warm-up (kernel selection, packing buffers)
        took = time.perf_counter() - t
        if m >= n or 8 * took > max_s:
            break
        m *= 2
    best = took
    for _ in range(repeats if took < max_s else 1):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    LAST_SIZE[str(dtype).replace("torch.", "")] = m
    return 2 * m ** 3 / best


LAST_SIZE: dict[str, int] = {}  # dtype name -> the m of its last matmul_peak (2048 unless the CPU is slow at it)


def peaks() -> dict[str, float]:
    return {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}


def sizes() -> str:
    """'fp32 2048^3, bf16 512^3': the matmul sizes behind the last peaks()."""
    names = {"float32": "fp32", "bfloat16": "bf16"}
    return ", ".join(f"{names.get(k, k)} {v}^3" for k, v in LAST_SIZE.items())


def cpu_line() -> str:
    """'MODEL NAME; bf16 flags: ...' from lscpu (AMX and AVX-512 BF16 decide what bf16 autocast buys)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "lscpu unavailable"
    name = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "?")
    flags = next((ln.split(":", 1)[1].split() for ln in out.splitlines() if ln.startswith("Flags")), [])
    bf16 = [f for f in flags if f in ("amx_bf16", "amx_tile", "avx512_bf16", "avx512_vnni")]
    simd = "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "no avx2"
    return f"{name}; {simd}; bf16 flags: {' '.join(bf16) or 'none'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    p = peaks()
    print(f"{cpu_line()}; {torch.get_num_threads()} threads: matmul ({sizes()}) best of 5: fp32 {p['fp32'] / 1e9:.0f} "
          f"GFLOP/s, bf16 {p['bf16'] / 1e9:.0f} GFLOP/s ({p['bf16'] / p['fp32']:.2f}x)")


if __name__ == "__main__":
    main()
