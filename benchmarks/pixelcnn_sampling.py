"""Cached (row-incremental) vs naive PixelCNN sampling at 28×28, same model, same seed, same process.

    .venv/bin/python benchmarks/pixelcnn_sampling.py [--run RUN_DIR] [--n 8] [--threads 1]

naive: one full forward pass per pixel (H·W = 784 passes). cached: the vertical stack once per row on
the finished rows, and per pixel only the horizontal stack on its own row up to that column. Both
draw the same uniforms in the same order, so the samples must be identical (checked). Sampling cost
does not depend on the weights, so without --run a freshly initialised model of the default config is
timed. Prints seconds per batch and the speed-up.
"""
from __future__ import annotations

import argparse
import time

import torch

from genlab.models.autoregressive.pixelcnn import PixelCNN, PixelCNNConfig
from genlab.models.base import DataInfo


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", help="a trained pixelcnn run directory (default: fresh default-config model)")
    p.add_argument("--n", type=int, default=8, help="images per batch")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--layers", type=int, default=8)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.run:
        from genlab.runs import load_run

        model = load_run(args.run).model
    else:
        torch.manual_seed(0)
        model = PixelCNN(PixelCNNConfig(channels=args.channels, layers=args.layers), DataInfo((1, 28, 28), 256))
    model.eval()
    cfg = model.config
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.n}, 28x28, "
          f"{cfg.arch} channels={cfg.channels} layers={cfg.layers} kernel={cfg.kernel_size} output={cfg.output}")
    out, secs = {}, {}
    for sampler in ("cached", "naive"):
        g = torch.Generator().manual_seed(0)
        t = time.perf_counter()
        out[sampler] = model.sample(args.n, generator=g, sampler=sampler)
        secs[sampler] = time.perf_counter() - t
        print(f"  {sampler:6s} {secs[sampler]:8.2f} s per batch of {args.n}")
    same = torch.equal(out["cached"], out["naive"])
    print(f"  identical samples: {same}")
    print(f"  speed-up cached vs naive: {secs['naive'] / secs['cached']:.1f}x")


if __name__ == "__main__":
    main()
