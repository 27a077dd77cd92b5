"""Transformer sampling with the key/value cache vs recomputing the prefix at every step, one process.

    .venv/bin/python benchmarks/kv_cache.py [--run RUN_DIR] [--steps 512] [--n 1] [--threads 1]
                                            [--width 256] [--layers 4] [--heads 8]

naive: step t runs the whole causal Transformer over tokens 0..t (t + 1 positions) and keeps the last
output — O(T²) positions in all; cached: step t runs one position and attends to the cached keys and
values — O(T) positions (attention itself is O(t) per step either way). Both draw the same uniforms in the
same order, so the tokens must be identical (checked). Without --run a freshly initialised model on the
event-token vocabulary (225 tokens) is timed; sampling cost does not depend on the weights. Prints
seconds per batch and the speed-up (issue 18: target >= 10x).
"""
from __future__ import annotations

import argparse
import time

import torch

from genlab.fields import DataInfo, FieldSpec
from genlab.models.sequence.transformer import Transformer, TransformerConfig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", help="a trained transformer run directory (default: a fresh model)")
    p.add_argument("--steps", type=int, default=512, help="tokens to sample (the model's context)")
    p.add_argument("--n", type=int, default=1, help="sequences per batch")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=8)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.run:
        from genlab.runs import load_run

        model = load_run(args.run).model
        args.steps = min(args.steps, model.max_context)
    else:
        info = DataInfo.of({"x": FieldSpec((args.steps,), "tokens", 225, valid="x_valid", channels=("events",)),
                            "x_valid": FieldSpec((args.steps,), "mask")})
        torch.manual_seed(0)
        model = Transformer(TransformerConfig(width=args.width, heads=args.heads, layers=args.layers, dropout=0.0),
                            info)
    model.eval()
    model.eos = None  # time every step (an early EOS would end the sequence but not the loop)
    c = model.config
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.n}, {args.steps} tokens, "
          f"width={c.width} layers={c.layers} heads={c.heads}")
    out, secs = {}, {}
    for cached in (True, False):
        g = torch.Generator().manual_seed(0)
        t = time.perf_counter()
        out[cached] = model.generate_steps(args.n, args.steps, generator=g, cached=cached)
        secs[cached] = time.perf_counter() - t
        print(f"  {'cached' if cached else 'naive':6s} {secs[cached]:8.2f} s per batch of {args.n} "
              f"({args.n * args.steps / secs[cached]:.0f} tokens/s)")
    print(f"  identical tokens: {torch.equal(out[True], out[False])}")
    print(f"  speed-up cached vs naive: {secs[False] / secs[True]:.1f}x")


if __name__ == "__main__":
    main()
