"""`make bench`: run every speed/quality benchmark once at its short default setting and print each
script's own report, one after the other (subprocesses, so no run sees another's threads or caches).

    .venv/bin/python benchmarks/run_all.py [--list] [--only NAME[,NAME]] [--skip NAME[,NAME]]

The figures in docs/benchmarks*.md come from these scripts (each doc section names the exact command
and options it ran). Run on an otherwise idle machine: every ratio is measured inside one process
against a reference run there, but absolute img/s and wall times depend on the load. The whole set
takes about 15–20 minutes on the 2-core CPU; `flows` needs the optional comparison package
(`pip install --no-deps normflows==1.7.3`, the `bench` extra) and is reported as skipped without it.
"""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (arguments after the interpreter, what it measures)
BENCHMARKS: dict[str, tuple[list[str], str]] = {
    "vae": (["vae_step.py"], "VAE step: bf16 autocast vs fp32"),
    "dcgan": (["dcgan_speed.py"], "DCGAN img/s: trainer vs plain fp32 DataLoader loop (issue 3)"),
    "toys": (["toy_modes.py", "--losses", "nonsaturating,hinge", "--seeds", "0"],
             "GAN toys: modes covered / HQ share, NS and hinge, seed 0 (issue 3)"),
    "eval": (["eval_speed.py", "speed", "--extractor", "fmnist-classifier", "--n", "10000"],
             "genlab eval end to end, fmnist-classifier, 10k vs 10k (issue 4)"),
    "pixelcnn": (["pixelcnn_sampling.py"], "PixelCNN cached vs naive sampling (issue 6)"),
    "flows": (["flows_speed.py", "--threads", "0"], "RealNVP/Glow step vs normflows (issue 6)"),
    "translation": (["translation_speed.py", "--steps", "20"], "pix2pix/cyclegan step: fp32 vs bf16, NCHW vs "
                    "channels-last (issue 14)"),
    "pix2pix-ablation": (["pix2pix_ablation.py", "--dataset", "fmnist-edges", "--eval-only"],
                         "pix2pix ablation table of the finished rows (train them first; issue 14)"),
    "unpaired-translation": (["unpaired_translation.py", "--eval-only"],
                             "cyclegan / augmented-cyclegan table of the finished runs (train them first; issue 14)"),
    "precision-auto": (["precision_auto.py", "--steps", "10"], "train.precision=auto: its one-step measurement "
                       "beside real fp32 and bf16 training steps, per model (issues 15, 19)"),
    "kv-cache": (["kv_cache.py", "--steps", "512"], "transformer sampling: key/value cache vs recomputing the prefix, "
                 "identical tokens (issue 18)"),
    "chorale-table": (["chorale_table.py", "--out", "runs/chorale-table", "--table-only"],
                      "frame NLL table of the chorale runs (train them first: --minutes 30; issue 18)"),
    "stylegan-table": (["stylegan_table.py", "--eval-only", "--n", "10000"],
                       "stylegan Table 2 / Table 4 effects, vs dcgan at equal time, ADA (train them first; issue 17)"),
    "emulation": (["emulation.py"], "convection emulator vs solver snapshots/s, same process (issue 16; the first "
                  "run simulates the default rayleigh-benard split, ~15 min)"),
}
NEEDS = {"flows": "normflows"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="print the benchmarks and exit")
    ap.add_argument("--only", default="", help="comma-separated names to run (default: all)")
    ap.add_argument("--skip", default="", help="comma-separated names to leave out")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(BENCHMARKS)
    skip = [n for n in args.skip.split(",") if n]
    unknown = [n for n in names + skip if n not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmark {unknown[0]!r}; expected one of {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    if args.list:
        for n, (cmd, what) in BENCHMARKS.items():
            print(f"{n:9s} {what}\n          python benchmarks/{' '.join(cmd)}")
        return 0
    failed = []
    for n in names:
        if n in skip:
            continue
        cmd, what = BENCHMARKS[n]
        print(f"\n=== {n}: {what}\n$ python benchmarks/{' '.join(cmd)}", flush=True)
        if n in NEEDS and importlib.util.find_spec(NEEDS[n]) is None:
            print(f"skipped: needs the {NEEDS[n]} package (pip install --no-deps {NEEDS[n]}==1.7.3)")
            continue
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / cmd[0]), *cmd[1:]])
        print(f"--- {n}: exit {rc}, {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            failed.append(n)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
