"""Training throughput (samples/s) of genlab's RealNVP and Glow vs the `normflows` package's equivalent
architectures, on the same Fashion-MNIST batches, in the same process, interleaved round by round so
that a shared, noisy machine slows both sides alike.

    .venv/bin/python benchmarks/flows_speed.py [--hidden 32] [--steps 4] [--batch 32] [--rounds 3]

normflows is a dev-only benchmark dependency (`pip install --no-deps normflows`; it needs only torch
and numpy). Both sides: uniform dequantisation, logit(0.05 + 0.9 y) preprocessing with its Jacobian,
N(0, I) priors, Adam, one optimisation step per batch. Architectures (28×28×1):
- Glow: 2 scales of [squeeze, K × (actnorm, LU 1×1 conv, channel affine coupling)], factor-out between
  (normflows: GlowBlock = coupling, LU 1×1 conv, actnorm; MultiscaleFlow with Merge).
- RealNVP: scale 1 = 3 checkerboard couplings, squeeze, 3 channel couplings, factor-out; scale 2 =
  4 checkerboard couplings; ActNorm after every coupling on both sides.
Coupling networks are the same shape on both sides: conv3×3 -> ReLU -> conv1×1 -> ReLU -> conv3×3.
genlab is timed in fp32 (like for like) and under bf16 autocast (what `genlab train` uses on this CPU).
Prints per-step times and the ratios.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from genlab.data import load_dataset
from genlab.models.base import Batch
from genlab.models.flows.glow import Glow, GlowConfig
from genlab.models.flows.realnvp import RealNVP, RealNVPConfig


def normflows_glow(hidden: int, steps: int):
    import normflows as nf

    q0, flows, merges = [], [], []
    for i in range(2):  # level 0 = the deepest (8×7×7), level 1 = 4×14×14 after the merge
        c = 8 if i == 0 else 4
        flows.append([nf.flows.GlowBlock(c, hidden, split_mode="channel", scale=True) for _ in range(steps)]
                     + [nf.flows.Squeeze()])
        shape = (8, 7, 7) if i == 0 else (2, 14, 14)
        if i > 0:
            merges.append(nf.flows.Merge())
        q0.append(nf.distributions.DiagGaussian(shape, trainable=False))
    return nf.MultiscaleFlow(q0, flows, merges, transform=nf.transforms.Logit(alpha=0.05), class_cond=False)


def _nf_coupling(c: int, hidden: int, mode: str):
    import normflows as nf

    out = 2 * (c if "checkerboard" in mode else c // 2)
    c_in = c if "checkerboard" in mode else (c + 1) // 2
    net = nf.nets.ConvNet2d((c_in, hidden, hidden, out), (3, 1, 3), 0.0, True)
    return [nf.flows.AffineCouplingBlock(net, True, "exp", mode), nf.flows.ActNorm((c, 1, 1))]


def normflows_realnvp(hidden: int, couplings: int = 3):
    import normflows as nf

    cb = ["checkerboard", "checkerboard_inv"]
    ch = ["channel", "channel_inv"]
    deep = [lay for i in range(couplings + 1) for lay in _nf_coupling(2, hidden, cb[i % 2])]
    top = [lay for i in range(couplings) for lay in _nf_coupling(4, hidden, ch[i % 2])] + [nf.flows.Squeeze()]
    top += [lay for i in range(couplings) for lay in _nf_coupling(1, hidden, cb[i % 2])]
    q0 = [nf.distributions.DiagGaussian((2, 14, 14), trainable=False),
          nf.distributions.DiagGaussian((2, 14, 14), trainable=False)]
    return nf.MultiscaleFlow(q0, [deep, top], [nf.flows.Merge()], transform=nf.transforms.Logit(alpha=0.05),
                             class_cond=False)


def step_ours(model, opt, x, g, bf16: bool) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model.loss(Batch(x, None, g))["loss"]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def step_nf(model, opt, x, g) -> None:
    y = (torch.round(x * 255) + torch.rand(x.shape, generator=g)) / 256
    loss = model.forward_kld(y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def bench(name, ours, theirs, data, args) -> None:
    g = torch.Generator().manual_seed(0)
    runners = {
        "genlab fp32": lambda x: step_ours(ours, o1, x, g, False),
        "genlab bf16": lambda x: step_ours(ours, o1, x, g, True),
        "normflows fp32": lambda x: step_nf(theirs, o2, x, g),
    }
    o1 = torch.optim.Adam(ours.parameters(), 1e-4)
    o2 = torch.optim.Adam(theirs.parameters(), 1e-4)
    batches = [data[i * args.batch:(i + 1) * args.batch] for i in range(args.steps)]
    for run in runners.values():  # warm-up (also the data-dependent ActNorm initialisation)
        run(batches[0])
    times = {k: [] for k in runners}
    for _ in range(args.rounds):
        for k, run in runners.items():
            t = time.perf_counter()
            for x in batches:
                run(x)
            times[k].append((time.perf_counter() - t) / args.steps)
    n_ours = sum(p.numel() for p in ours.parameters())
    n_nf = sum(p.numel() for p in theirs.parameters())
    print(f"{name}: parameters genlab {n_ours}, normflows {n_nf}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"  {k:15s} {v * 1000:8.1f} ms/step  {args.batch / v:8.1f} samples/s")
    print(f"  ratio genlab fp32 / normflows: {med['normflows fp32'] / med['genlab fp32']:.2f}x   "
          f"genlab bf16 / normflows: {med['normflows fp32'] / med['genlab bf16']:.2f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--glow-steps", type=int, default=4)
    p.add_argument("--steps", type=int, default=4, help="timed steps per round")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--only", choices=("glow", "realnvp"), default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("fashion-mnist", "train").get(slice(0, args.batch * args.steps))
    info = load_dataset("fashion-mnist", "test").subset(1).info
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, "
          f"hidden {args.hidden}, {args.rounds} rounds x {args.steps} steps (median)")
    torch.manual_seed(0)
    if args.only in (None, "glow"):
        ours = Glow(GlowConfig(hidden=args.hidden, steps=args.glow_steps, scales=2), info)
        bench(f"Glow (K={args.glow_steps})", ours, normflows_glow(args.hidden, args.glow_steps), data, args)
    if args.only in (None, "realnvp"):
        ours = RealNVP(RealNVPConfig(hidden=args.hidden, couplings=3, scales=2), info)
        bench("RealNVP", ours, normflows_realnvp(args.hidden), data, args)


if __name__ == "__main__":
    main()
