"""Device and autocast selection, and what `train.precision=auto` means.

auto = bf16 autocast on bf16-capable GPUs and on CPUs with AMX (bf16 matrix tiles: several times fp32), fp32
where the CPU has no bf16 arithmetic (PyTorch emulates it there: 1.6-2x slower than fp32, measured on an
Intel Xeon with AVX-512 but no AVX-512 BF16 for the restoration U-Net and SRResNet, benchmarks/
precision_auto.py), and **measured** on CPUs with AVX-512 BF16 but no AMX: there the gain depends on the
model (up to 1.56x, Inception features on an AMD EPYC, docs/benchmarks.md) and is not assured,
so the trainer times one step of the run's own model in both and keeps the faster (`measure_step`). The
choice is stored in the checkpoint, so a resumed run keeps it. The environment variable
GENLAB_AUTO_PRECISION=bf16|fp32 replaces the measurement with a fixed answer (the test suite sets it, so
that two runs of one config never differ by a timing).
"""
from __future__ import annotations

import contextlib
import os
import time
from typing import Callable

import torch

from ..errors import GenlabError


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise GenlabError(f"train.device={name!r} is not a device; use auto, cpu or cuda[:N]") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GenlabError(f"train.device={name!r} but no CUDA GPU is available; use train.device=cpu")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device(f"cuda:{local_rank}")
    return dev


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
        return bool((check and check()) or amx_supported())
    return False


MEASURE = "measure"  # resolve_precision's answer where only a timing can tell (module docstring)
BF16_GAIN = 0.9  # bf16 is kept only if its step takes at most this share of the fp32 step


def amx_supported() -> bool:
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(amx and amx())


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> 'bf16', 'fp32' or MEASURE (module docstring). Asking for bf16 where it is slow is allowed."""
    if precision != "auto":
        return precision
    if not bf16_supported(device):
        return "fp32"
    if device.type != "cpu" or amx_supported():
        return "bf16"
    fixed = os.environ.get("GENLAB_AUTO_PRECISION", "")
    if fixed:
        if fixed not in ("bf16", "fp32"):
            raise GenlabError(f"GENLAB_AUTO_PRECISION={fixed!r}; set it to bf16 or fp32, or unset it to measure")
        return fixed
    return MEASURE


def measure_step(step: Callable[[str], None], *, reps: int = 3, budget_s: float = 6.0) -> dict[str, float]:
    """Seconds of `step(precision)` for fp32 and bf16: one warm-up each, then up to `reps` interleaved timings
    (fewer when a step is slow, so that the timings take about `budget_s`), best of each. A bf16 step that
    the CPU's kernels refuse (oneDNN has no bf16 LSTM on CPUs without AVX-512 BF16: RuntimeError) counts as
    infinitely slow, so fp32 is chosen."""
    best = {}
    for p in ("fp32", "bf16"):
        t = time.perf_counter()
        try:
            step(p)
        except RuntimeError:
            if p == "fp32":
                raise
            best[p] = float("inf")
            continue
        best[p] = time.perf_counter() - t
    finite = [p for p in ("fp32", "bf16") if best[p] != float("inf")]
    n = max(0, min(reps, int(budget_s / max(1e-6, sum(best[p] for p in finite)))))
    for _ in range(n):
        for p in finite:
            t = time.perf_counter()
            step(p)
            best[p] = min(best[p], time.perf_counter() - t)
    return best


def choose(times: dict[str, float]) -> str:
    """bf16 when its step is at least 10 % faster than fp32's, else fp32."""
    return "bf16" if times["bf16"] <= BF16_GAIN * times["fp32"] else "fp32"


def autocast(precision: str, device: torch.device):
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
