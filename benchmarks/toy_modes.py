"""Mode coverage and high-quality share of `gan` (default config) on ring8 / grid25, per loss and seed.

    .venv/bin/python benchmarks/toy_modes.py [--losses nonsaturating,hinge] [--data ring8,grid25]
        [--seeds 0,1,2] [--steps N] [--threads 1] [--set model.pack=2 --set train.ema=0]

Each run trains through the genlab Trainer exactly as `genlab train gan --data NAME --model.loss=L
--train.seed=S` would (no run directory; `--set SECTION.KEY=VALUE` adds overrides), then evaluates
2,500 samples as `genlab eval RUN` does: with the EMA weights of G when train.ema > 0 (what
`genlab eval` loads from ema.safetensors), drawn in chunks of 500 from one generator seeded 0
(`genlab eval --seed 0`), scored by genlab.metrics.toy.evaluate_toy (modes with >= 1 sample within
3 std; HQ = share of samples within 3 std of their nearest mode).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import genlab.components  # noqa: F401
from genlab.cli.sample import draw
from genlab.config import parse_overrides, resolve
from genlab.data import load_dataset
from genlab.metrics.toy import evaluate_toy
from genlab.registry import LOSSES
from genlab.runs import build_model
from genlab.training import Trainer


def one_run(loss: str, data_name: str, seed: int, steps: int, threads: int, n_eval: int = 2500,
            extra: dict | None = None) -> dict:
    extra = extra or {}
    train = {**extra.get("train", {}), "seed": seed, "progress": False, "threads": threads}
    if steps:
        train["steps"] = steps
    layer = {"model": {**extra.get("model", {}), "loss": loss}, "train": train, "data": {"name": data_name}}
    cfg = resolve("gan", [layer])
    data = load_dataset(data_name, "train")
    model = build_model(cfg, data.info)
    t0 = time.perf_counter()
    trainer = Trainer(model, cfg.train, data, None)
    trainer.fit()
    secs = time.perf_counter() - t0
    if trainer.ema is not None:  # as genlab eval: the EMA weights replace the live ones
        for name, sd in trainer.ema.shadow.items():
            trainer.raw[name].load_state_dict(sd)
    model.eval()
    x = draw(model, n_eval, 0, torch.device("cpu"))
    res = evaluate_toy(x, torch.tensor(data.meta["centres"]), float(data.meta["std"]))
    return {**res, "seconds": secs, "samples": x}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--losses", default=",".join(LOSSES))
    ap.add_argument("--data", default="ring8,grid25")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=0, help="0 = the model's default train.steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="extra config override, e.g. --set model.pack=2 (repeatable)")
    args = ap.parse_args()
    extra = parse_overrides(["--" + kv for kv in args.set])
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for data_name in args.data.split(","):
        for loss in args.losses.split(","):
            runs = []
            for s in seeds:
                r = one_run(loss, data_name, s, args.steps, args.threads, extra=extra)
                print(f"# {data_name} {loss} seed {s}: {r['modes_covered']}/{r['modes_total']} modes, "
                      f"HQ {100 * r['hq_fraction']:.1f}%, {r['seconds']:.1f}s", flush=True)
                runs.append(r)
            modes = "/".join(str(r["modes_covered"]) for r in runs)
            hq = "/".join(f"{100 * r['hq_fraction']:.1f}" for r in runs)
            mean_hq = 100 * statistics.mean(r["hq_fraction"] for r in runs)
            secs = statistics.mean(r["seconds"] for r in runs)
            rows.append(f"| {data_name} | {loss} | {modes} (of {runs[0]['modes_total']}) | {hq} | "
                        f"{mean_hq:.1f} | {secs:.0f} |")
    print("| data | loss | modes covered, seeds " + ",".join(map(str, seeds)) +
          " | HQ % per seed | mean HQ % | s/run |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
