"""DCGAN training throughput on Fashion-MNIST: the genlab Trainer (bf16 autocast where supported,
in-memory index batches) vs a plain fp32 PyTorch loop (torch DataLoader over a per-example Dataset,
BCE-with-logits NS losses, the same G and D networks), in the same process.

    .venv/bin/python benchmarks/dcgan_speed.py [--batch 64] [--steps 60] [--warmup 10]
        [--arch dcgan|infogan] [--threads 0] [--channels-last default|on|off]

Prints images/s for both (one image = one real example per training step, D and G step each) and the
ratio. Goals (issue 3): >= 1,000 img/s at batch 64 on the 2-core CPU and >= 4x the plain loop.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

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
    slow = plain_rate(cfg, data, args.warmup, args.steps)
    print(f"plain fp32 DataLoader loop: {slow:.0f} img/s")
    print(f"ratio: {fast / slow:.2f}x  (arch={args.arch}, batch={args.batch}, threads={torch.get_num_threads()}, "
          f"steps timed={args.steps} after {args.warmup} warm-up)")


if __name__ == "__main__":
    main()
