"""Inpainting table (issue 15): the by-hole-ratio-bin table of a trained inpaint run beside biharmonic.

    .venv/bin/python benchmarks/inpaint_table.py RUN [-n 100] [--seed 0] [--split test] [--masks DIR]
                                                     [--stored] [--device cpu] [--record]

Trains nothing. Evaluates RUN exactly as `genlab eval RUN` does (genlab/metrics/inpainting.py: the first n
eval-split images, the seeded mask set of data/masks.py with n masks per bin, biharmonic run through the same
`infill` interface) and prints a Markdown table per bin: hole L1 / hole PSNR / hole SSIM / composite PSNR of
the model and of biharmonic, then the gain in hole PSNR and whether the model beats biharmonic on hole PSNR in
every bin with hole ratio >= 0.2 (the issue's acceptance line). --stored prints the newest stored `inpaint`
record of RUN/metrics.json instead of evaluating; --record also stores the evaluation there (as genlab eval).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def stored(run: Path) -> dict:
    from genlab.report.results import load_results

    recs = [r for r in load_results(run) if r.kind == "inpaint"]
    if not recs:
        raise SystemExit(f"{run} has no stored inpaint record; run without --stored (or genlab eval {run})")
    r = max(recs, key=lambda r: (-1 if r.step is None else r.step, r.recorded_at or ""))
    return {**r.values, "protocol": r.protocol, "step": r.step}


def evaluate(args) -> dict:
    import torch

    from genlab.metrics.inpainting import evaluate_run
    from genlab.runs import load_run

    dev = torch.device(args.device)
    r = load_run(args.run, device=dev)
    t0 = time.perf_counter()
    res = evaluate_run(r, n=args.n, seed=args.seed, device=dev, split=args.split, masks=args.masks,
                       figure_dir=Path(args.run) / "inpaint" if args.record else None)
    res["protocol"]["time_s"] = round(time.perf_counter() - t0, 1)
    if args.record:
        from genlab.report.results import record_result

        record_result(args.run, "inpaint", {**res["protocol"], "ema": r.ema},
                      {k: v for k, v in res.items() if k != "protocol"}, r.step)
    res["step"] = r.step
    return res


def verdict(res: dict) -> list[str]:
    """Gain in hole PSNR per bin and the issue's line (beats biharmonic for hole ratios >= 0.2)."""
    high = {k: v for k, v in res["bins"].items() if float(k.strip("(]").split(",")[0]) >= 0.2}
    gains = {k: v["hole_psnr"] - v["biharmonic_hole_psnr"] for k, v in res["bins"].items()}
    lines = ["gain in hole PSNR (model − biharmonic, dB): " + ", ".join(f"{k} {g:+.2f}" for k, g in gains.items())]
    ok = all(gains[k] > 0 for k in high)
    lines.append(f"beats biharmonic on hole PSNR in every bin with hole ratio >= 0.2: {'yes' if ok else 'no'}")
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="run directory of an inpaint model")
    p.add_argument("-n", type=int, default=100, help="images (= masks per bin), default 100")
    p.add_argument("--seed", type=int, default=0, help="seed of the evaluation mask set (default 0)")
    p.add_argument("--split", default=None, help="dataset split (default: the run's eval split)")
    p.add_argument("--masks", default=None, help="user masks (file or folder) instead of the seeded set")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--stored", action="store_true", help="print the stored record instead of evaluating")
    p.add_argument("--record", action="store_true", help="also record the result in RUN/metrics.json")
    p.add_argument("--json", default=None, help="also write the result to this JSON file")
    args = p.parse_args()
    from genlab.metrics.inpainting import table_lines

    res = stored(Path(args.run)) if args.stored else evaluate(args)
    proto = res["protocol"]
    print(f"run {args.run} (step {res['step']}); images: {proto.get('images')}; masks: {proto.get('masks')}")
    for line in table_lines(res) + verdict(res):
        print(line)
    if "time_s" in proto:
        print(f"evaluation time: {proto['time_s']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
