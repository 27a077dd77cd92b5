"""`genlab sample RUN -n 64 --out grid.png [--seed S]`: draw from a trained model."""
from __future__ import annotations

import numpy as np
import torch

from ..runs import load_run
from ..viz.plots import save_samples
from .common import device, out_path, positive_int, say


def add_parser(sub) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained run into a PNG grid (or .npy/.npz)")
    p.add_argument("run", help="run directory")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", required=True, help="output .png (grid), .npy or .npz (raw samples in [0, 1])")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--no-ema", action="store_true", help="use live weights even if EMA weights exist")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=run)


@torch.no_grad()
def draw(model, n: int, seed: int, dev: torch.device, batch: int = 500) -> torch.Tensor:
    """n samples in chunks, from one seeded generator (so the result does not depend on the chunking)."""
    g = torch.Generator(dev).manual_seed(seed)
    parts = [model.sample(min(batch, n - i), generator=g).float().cpu() for i in range(0, n, batch)]
    return torch.cat(parts, 0)


def run(args) -> int:
    positive_int("-n", args.n)
    out = out_path(args.out, args.force, (".png", ".npy", ".npz"))
    dev = device(args.device)
    r = load_run(args.run, device=dev, use_ema=not args.no_ema)
    x = draw(r.model, args.n, args.seed, dev)
    if out.suffix == ".png":
        save_samples(x, out, title=f"{r.config.model_name} samples")
    elif out.suffix == ".npy":
        np.save(out, x.numpy())
    else:
        np.savez_compressed(out, x=x.numpy())
    say(f"wrote {args.n} samples from {r.run_dir} (step {r.step}{', EMA weights' if r.ema else ''}) to {out}")
    return 0
