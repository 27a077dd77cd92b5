"""Mode coverage and high-quality share of `gan` (default config) on ring8 / grid25, per loss and seed.

    .venv/bin/python benchmarks/toy_modes.py [--losses nonsaturating,hinge] [--data ring8,grid25]
        [--seeds 0,1,2] [--steps N] [--threads 1] [--markdown]

Each run trains through the genlab Trainer exactly as `genlab train gan --data NAME --model.loss=L
--train.seed=S` would (no run directory), then evaluates 2,500 samples as `genlab eval` does
(genlab.metrics.toy.evaluate_toy: modes with >= 1 sample within 3 std; HQ = share within 3 std).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import genlab.components  # noqa: E402,F401
from genlab.config import resolve  # noqa: E402
from genlab.data import load_dataset  # noqa: E402
from genlab.metrics.toy import evaluate_toy  # noqa: E402
from genlab.registry import LOSSES  # noqa: E402
from genlab.runs import build_model  # noqa: E402
from genlab.training import Trainer  # noqa: E402


def one_run(loss: str, data_name: str, seed: int, steps: int, threads: int, n_eval: int = 2500) -> dict:
    train = {"seed": seed, "progress": False, "threads": threads}
    if steps:
        train["steps"] = steps
    cfg = resolve("gan", [{"model": {"loss": loss}, "train": train, "data": {"name": data_name}}])
    data = load_dataset(data_name, "train")
    model = build_model(cfg, data.info)
    t0 = time.perf_counter()
    Trainer(model, cfg.train, data, None).fit()
    secs = time.perf_counter() - t0
    model.eval()
    x = model.sample(n_eval, generator=torch.Generator().manual_seed(seed))
    res = evaluate_toy(x, torch.tensor(data.meta["centres"]), float(data.meta["std"]))
    return {**res, "seconds": secs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--losses", default=",".join(LOSSES))
    ap.add_argument("--data", default="ring8,grid25")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=0, help="0 = the model's default train.steps")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for data_name in args.data.split(","):
        for loss in args.losses.split(","):
            runs = [one_run(loss, data_name, s, args.steps, args.threads) for s in seeds]
            for s, r in zip(seeds, runs):
                print(f"# {data_name} {loss} seed {s}: {r['modes_covered']}/{r['modes_total']} modes, "
                      f"HQ {100 * r['hq_fraction']:.1f}%, {r['seconds']:.1f}s", flush=True)
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
