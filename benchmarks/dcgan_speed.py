"""DCGAN training throughput on Fashion-MNIST: the genlab Trainer (bf16 autocast where supported,
in-memory index batches) vs a plain fp32 PyTorch loop (torch DataLoader over a per-example Dataset,
BCE-with-logits NS losses, the same G and D networks), in the same process.

    .venv/bin/python benchmarks/dcgan_speed.py [--batch 64] [--steps 60] [--warmup 10]
        [--arch dcgan|infogan] [--threads 0] [--channels-last default|on|off] [--compile] [--no-peak]

Prints images/s for both (one image = one real example per training step, D and G step each) and the
ratio. Goals (issue 3): >= 1,000 img/s at batch 64 on the 2-core CPU and >= 4x the plain loop; issue 19:
>= 4x on a CPU with AMX, the best reachable without.

FLOP/s as a share of the hardware's: the useful work of one training step is counted once, by
torch.utils.flop_counter.FlopCounterMode on one step of the plain loop (G forward; D forward on reals,
fakes and again on fakes for G; the three backward passes; convolutions and matmuls only, as the counter
counts) and divided by the batch; achieved FLOP/s = that x img/s. The peak is measured in the same process
(benchmarks/hardware.py): the best of 5 timed 2048x2048 @ 2048x2048 matmuls per dtype (fp32, bf16), on the
same threads. The trainer's
rate is compared with the peak of the dtype its autocast runs in, the plain loop's with fp32's. --compile
adds a third row: the trainer with train.compile=true (torch.compile of each network).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/hardware.py

import genlab.components  # noqa: E402,F401
from genlab.config import resolve  # noqa: E402
from genlab.data import load_dataset  # noqa: E402
from genlab.runs import build_model  # noqa: E402
from genlab.training import Trainer  # noqa: E402


def trainer_rate(cfg, data, warmup: int, steps: int) -> float:
    model = build_model(cfg, data.info)
    marks = {}

    def mark(tr, step):
        if step in (warmup, warmup + steps):
            marks[step] = time.perf_counter()

    Trainer(model, cfg.train, data, None, callbacks=(mark,)).fit()
    return steps * cfg.train.batch_size / (marks[warmup + steps] - marks[warmup])


class PerExample(torch.utils.data.Dataset):
    """The usual map-style dataset: one example per __getitem__, collated by the DataLoader."""

    def __init__(self, x: torch.Tensor):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


def step_flops(cfg, data) -> float:
    """FLOPs of one plain training step per image (module docstring), counted by FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(cfg, data.info)
    gen, disc = model.generator, model.discriminator
    bs = cfg.train.batch_size
    real = data.all()[:bs] * 2 - 1
    with FlopCounterMode(display=False) as counter:
        fake = gen(torch.randn(bs, cfg.model.latent_dim))
        d_real, d_fake = disc(real), disc(fake.detach())
        (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
         + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))).backward()
        d_gen = disc(fake)
        F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen)).backward()
    return counter.get_total_flops() / bs


def plain_rate(cfg, data, warmup: int, steps: int) -> float:
    model = build_model(cfg, data.info)  # same networks, fresh fp32 copy
    gen, disc = model.generator, model.discriminator
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bs, zdim = cfg.train.batch_size, cfg.model.latent_dim
    loader = torch.utils.data.DataLoader(PerExample(data.all()), batch_size=bs, shuffle=True, drop_last=True)
    done, t0 = 0, None
    while done < warmup + steps:
        for real in loader:
            if done == warmup:
                t0 = time.perf_counter()
            if done == warmup + steps:
                break
            real = real * 2 - 1
            fake = gen(torch.randn(bs, zdim))
            d_real, d_fake = disc(real), disc(fake.detach())
            loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                      + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            d_gen = disc(fake)
            loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            done += 1
    return steps * bs / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--arch", default="dcgan")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--channels-last", choices=("default", "on", "off"), default="default",
                    help="trainer memory format (default: the model's default, channels-last for dcgan)")
    ap.add_argument("--compile", action="store_true", help="also time the trainer with train.compile=true")
    ap.add_argument("--no-peak", action="store_true", help="skip the matmul peak and FLOP/s shares")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train = {"steps": args.warmup + args.steps, "batch_size": args.batch, "progress": False,
             "log_every": 10_000, "ckpt_every": 10_000}
    if args.channels_last != "default":
        train["channels_last"] = args.channels_last == "on"
    cfg = resolve("dcgan", [{"model": {"arch": args.arch, "loss": "nonsaturating"}, "train": train,
                             "data": {"name": "fashion-mnist"}}])
    data = load_dataset("fashion-mnist", "train")
    fast = trainer_rate(cfg, data, args.warmup, args.steps)
    from genlab.training.precision import resolve_precision

    prec = resolve_precision(cfg.train.precision, torch.device("cpu"))
    print(f"genlab Trainer ({prec} autocast, in-memory batches, channels_last={cfg.train.channels_last}): "
          f"{fast:.0f} img/s", flush=True)
    compiled = None
    if args.compile:
        ccfg = resolve("dcgan", [{"model": {"arch": args.arch, "loss": "nonsaturating"},
                                  "train": {**train, "compile": True}, "data": {"name": "fashion-mnist"}}])
        compiled = trainer_rate(ccfg, data, args.warmup, args.steps)
        print(f"genlab Trainer + torch.compile: {compiled:.0f} img/s", flush=True)
    slow = plain_rate(cfg, data, args.warmup, args.steps)
    print(f"plain fp32 DataLoader loop: {slow:.0f} img/s")
    print(f"ratio: {fast / slow:.2f}x  (arch={args.arch}, batch={args.batch}, threads={torch.get_num_threads()}, "
          f"steps timed={args.steps} after {args.warmup} warm-up)")
    if compiled is not None:
        print(f"ratio with torch.compile: {compiled / slow:.2f}x")
    if not args.no_peak:
        per_img = step_flops(cfg, data)
        from hardware import cpu_line, peaks as measure_peaks, sizes

        peaks = measure_peaks()
        print(cpu_line())
        print(f"matmul peak ({sizes()}, best of 5): fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 "
              f"{peaks['bf16'] / 1e9:.0f} GFLOP/s; one training step = {per_img / 1e6:.1f} MFLOP per image")
        rows = [("trainer", fast, "bf16" if prec == "bf16" else "fp32"), ("plain fp32", slow, "fp32")]
        if compiled is not None:
            rows.insert(1, ("trainer + compile", compiled, "bf16" if prec == "bf16" else "fp32"))
        for name, rate, dt in rows:
            print(f"{name}: {per_img * rate / 1e9:.1f} GFLOP/s = {100 * per_img * rate / peaks[dt]:.1f} % of the "
                  f"{dt} matmul peak")


if __name__ == "__main__":
    main()
