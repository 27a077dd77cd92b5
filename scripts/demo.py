"""`make demo`: train a DCGAN on Fashion-MNIST on CPU (about 4 minutes on 2 cores), then write a sample
grid, the loss curves and its evaluation — FID, KID, precision/recall and density/coverage of 10,000
samples (EMA generator) against the 10,000 test images, in the fmnist-classifier's feature space —
into a new run directory, which it prints.

`make demo-vae` (`--model vae`) is the VAE demo instead: samples, reconstructions and the test ELBO /
importance-weighted NLL in bits/dim.

Every step goes through the public CLI, so the demo is also an end-to-end check of it; `genlab eval`
keeps its results in metrics.json and redraws report.html, so the report shows the numbers printed here.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from genlab.cli.main import main
from genlab.report.results import latest_result
from genlab.training.checkpoint import next_run_dir


def step(*args: str) -> None:
    code = main(list(args))
    if code != 0:
        sys.exit(code)


def dcgan(run: Path, overrides: list[str], n: int) -> str:
    step("train", "--config", "dcgan-fashion-mnist", "--out", str(run), *overrides)
    step("sample", str(run), "-n", "64", "--out", str(run / "samples.png"))
    step("eval", str(run), "--metrics", "fid,kid,pr,dc", "--extractor", "fmnist-classifier", "--n", str(n or 10000))
    rec = latest_result(run, "samples", extractor="fmnist-classifier")  # the evaluation just made
    m, p = rec.values, rec.protocol
    return (f"  samples.png, loss_curves.png, samples/ (grids over training), report.html, metrics.json\n"
            f"  FID {m['fid']:.2f}, KID {m['kid_mean']:.4f} ± {m['kid_std']:.4f}, precision {m['precision']:.3f}, "
            f"recall {m['recall']:.3f}, density {m['density']:.3f}, coverage {m['coverage']:.3f}\n"
            f"  ({p['extractor']} features, {p['n_fake']} samples vs {p['n_real']} {p['real']} images; "
            f"for scale, train vs test images: FID 0.12 — docs/benchmarks-eval.md)")


def vae(run: Path, overrides: list[str], n: int) -> str:
    step("train", "--config", "vae-fashion-mnist", "--out", str(run), *overrides)
    step("sample", str(run), "-n", "64", "--out", str(run / "samples.png"))
    step("reconstruct", str(run), "-n", "32", "--out", str(run / "reconstructions.png"))
    # test likelihood: 2,000 test images, 64 importance samples each (the full 10k x k=100 takes longer)
    step("eval", str(run), "--n", str(n or 2000), "--k", "64")
    rec = latest_result(run, "likelihood")
    m = {**rec.values, "protocol": rec.protocol}
    return (f"  samples.png, reconstructions.png, loss_curves.png, samples/ (grids over training), report.html, "
            f"metrics.json\n"
            f"  test ELBO {m['test_elbo_nats']:.1f} nats = {m['test_elbo_bpd']:.3f} bits/dim; "
            f"IWAE-64 NLL bound {m['test_nll_iwae64_nats']:.1f} nats = {m['test_nll_iwae64_bpd']:.3f} bits/dim\n"
            f"  ({m['protocol']['likelihood_convention']})")


DEMOS = {"dcgan": dcgan, "vae": vae}


def demo(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(DEMOS), default="dcgan")
    ap.add_argument("--out", default="demo-runs", help="parent folder of the new run directory")
    ap.add_argument("--n", type=int, default=0, help="evaluation size (default: dcgan 10000, vae 2000)")
    ap.add_argument("overrides", nargs="*", help="config overrides for training, e.g. --train.steps=100 "
                    "(after --)")
    args = ap.parse_args(argv)
    t0 = time.time()
    run = next_run_dir(Path(args.out), f"{args.model}-fashion-mnist")
    summary = DEMOS[args.model](run, args.overrides, args.n)
    trained = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1]).get("time_s")
    took = f" (training {trained:.0f} s)" if isinstance(trained, (int, float)) else ""
    print(f"\ndemo finished in {time.time() - t0:.0f} s{took}")
    print(f"run directory: {run}")
    print(summary)


if __name__ == "__main__":
    demo()
