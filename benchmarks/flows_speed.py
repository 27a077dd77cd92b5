"""Training throughput (samples/s) of genlab's RealNVP and Glow vs the `normflows` package's equivalent
architectures, on the same Fashion-MNIST batches, in the same process, interleaved round by round so
that a shared, noisy machine slows both sides alike.

    .venv/bin/python benchmarks/flows_speed.py --threads 1 [--hidden 64] [--glow-steps 8] [--batch 32]
        [--steps 4] [--rounds 5] [--only glow|realnvp] [--nf-bf16]

normflows is a dev-only benchmark dependency (`pip install --no-deps normflows`; it needs only torch
and numpy). Both sides: uniform dequantisation, logit(0.05 + 0.9 y) preprocessing with its Jacobian,
N(0, I) priors, Adam, one optimisation step per batch. Architectures (28×28×1):
- Glow: 2 scales of [squeeze, K × (actnorm, LU 1×1 conv, channel affine coupling)], factor-out between
  (normflows: GlowBlock = coupling, LU 1×1 conv, actnorm; MultiscaleFlow with Merge).
- RealNVP: scale 1 = 3 checkerboard couplings, squeeze, 3 channel couplings, factor-out; scale 2 =
  4 checkerboard couplings; ActNorm after every coupling on both sides.
Coupling networks are the same shape on both sides: conv3×3 -> ReLU -> conv1×1 -> ReLU -> conv3×3.
RealNVP's checkerboard couplings: normflows runs the network on the kept pixels packed into a (C, H, W/2)
image; genlab's default runs it on the masked full-resolution image (the paper's form), twice the
convolution work in those 7 couplings. The row "genlab bf16 packed" times genlab with
`--model.checkerboard=packed`, the same layout as normflows (the like-for-like architecture).
Defaults: hidden 64 and Glow K = 8, the models' own defaults (`genlab train glow|realnvp`).

genlab is timed exactly as `genlab train realnvp|glow` trains by default: the config is resolved with
the model's `train_defaults` (precision auto = bf16 autocast on this CPU, grad clipping, Adam foreach),
the model is built by `build_model`, and every step is the Trainer's own `_run_phase` (autocast, loss,
backward, clipping, optimiser step) on the given batch. "genlab fp32" (`--train.precision=fp32`) is
shown for a like-for-like dtype comparison. normflows runs as shipped (fp32, torch.optim.Adam);
`--nf-bf16` also shows it under bf16 autocast, for information. Prints per-step times and the ratios
against normflows fp32.
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch

from genlab.config import resolve
from genlab.data import load_dataset
from genlab.models.base import Batch
from genlab.runs import build_model
from genlab.training.trainer import Trainer


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


def genlab_trainer(name: str, model_cfg: dict, data, args, precision: str = "auto"):
    """A Trainer built the way `genlab train NAME --data fashion-mnist` builds it (no run directory)."""
    train = {"batch_size": args.batch, "threads": args.threads, "progress": False, "precision": precision}
    cfg = resolve(name, [{"model": model_cfg, "train": train, "data": {"name": "fashion-mnist"}}])
    return Trainer(build_model(cfg, data.info), cfg.train, data, None)


def step_ours(trainer, x, g) -> None:
    batch = Batch(x, None, g)
    for phase in trainer.model.phases(trainer.step):
        trainer._run_phase(phase, batch)


def step_nf(model, opt, x, g, bf16: bool = False) -> None:
    y = (torch.round(x * 255) + torch.rand(x.shape, generator=g)) / 256
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model.forward_kld(y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def bench(name, model_cfg, theirs, data, args, variants: dict | None = None) -> None:
    """Time genlab (default precision, fp32, and each `variants` label -> extra model keys) against
    normflows' `theirs`, interleaved round by round."""
    g = torch.Generator().manual_seed(0)
    ours = genlab_trainer(name, model_cfg, data, args)
    ours32 = genlab_trainer(name, model_cfg, data, args, precision="fp32")
    nf_bf16 = copy.deepcopy(theirs) if args.nf_bf16 else None
    o2 = torch.optim.Adam(theirs.parameters(), 1e-3)
    runners = {
        f"genlab {ours.precision} (default)": lambda x: step_ours(ours, x, g),
        "genlab fp32": lambda x: step_ours(ours32, x, g),
        "normflows fp32": lambda x: step_nf(theirs, o2, x, g),
    }
    for label, extra in (variants or {}).items():
        trainer = genlab_trainer(name, {**model_cfg, **extra}, data, args)
        runners[f"genlab {trainer.precision} {label}"] = lambda x, t=trainer: step_ours(t, x, g)
    if nf_bf16 is not None:
        o3 = torch.optim.Adam(nf_bf16.parameters(), 1e-3)
        runners["normflows bf16"] = lambda x: step_nf(nf_bf16, o3, x, g, True)
    batches = [data.get(slice(i * args.batch, (i + 1) * args.batch)) for i in range(args.steps)]
    for run in runners.values():  # warm-up (also the data-dependent ActNorm initialisation)
        for x in batches[:2]:
            run(x)
    times = {k: [] for k in runners}
    for _ in range(args.rounds):
        for k, run in runners.items():
            t = time.perf_counter()
            for x in batches:
                run(x)
            times[k].append((time.perf_counter() - t) / args.steps)
    n_ours = sum(p.numel() for p in ours.model.parameters())
    n_nf = sum(p.numel() for p in theirs.parameters())
    print(f"{name}: parameters genlab {n_ours}, normflows {n_nf}")
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = med["normflows fp32"]
    for k, v in med.items():
        print(f"  {k:26s} {v * 1000:8.1f} ms/step  {args.batch / v:8.1f} samples/s  {ref / v:5.2f}x normflows fp32"
              f"  (rounds: {', '.join(f'{t * 1000:.1f}' for t in times[k])} ms)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--glow-steps", type=int, default=8)
    p.add_argument("--steps", type=int, default=4, help="timed steps per round")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--only", choices=("glow", "realnvp"), default=None)
    p.add_argument("--nf-bf16", action="store_true", help="also time normflows under bf16 autocast")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("fashion-mnist", "train").subset(args.batch * args.steps)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, "
          f"hidden {args.hidden}, {args.rounds} rounds x {args.steps} steps (median), "
          f"load average {os.getloadavg()[0]:.2f}")
    torch.manual_seed(0)
    if args.only in (None, "glow"):
        bench("glow", {"hidden": args.hidden, "steps": args.glow_steps, "scales": 2},
              normflows_glow(args.hidden, args.glow_steps), data, args)
    if args.only in (None, "realnvp"):
        bench("realnvp", {"hidden": args.hidden, "couplings": 3, "scales": 2}, normflows_realnvp(args.hidden),
              data, args, variants={"packed": {"checkerboard": "packed"}})
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
