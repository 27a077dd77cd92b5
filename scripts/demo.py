"""`make demo`: train the VAE on Fashion-MNIST on CPU (a few minutes), then write samples,
reconstructions, the loss curve and test ELBO / NLL into a new run directory, which it prints.

Every step goes through the public CLI, so the demo is also an end-to-end check of it.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from genlab.cli.main import main
from genlab.training.checkpoint import next_run_dir


def step(*args: str) -> None:
    code = main(list(args))
    if code != 0:
        sys.exit(code)


def demo() -> None:
    t0 = time.time()
    run = next_run_dir(Path("demo-runs"), "vae-fashion-mnist")
    step("train", "--config", "vae-fashion-mnist", "--out", str(run))
    t_train = time.time() - t0
    step("sample", str(run), "-n", "64", "--out", str(run / "samples.png"))
    step("reconstruct", str(run), "-n", "32", "--out", str(run / "reconstructions.png"))
    # test likelihood: 2,000 test images, 64 importance samples each (the full 10k x k=100 takes longer)
    step("eval", str(run), "--n", "2000", "--k", "64")
    m = json.loads((run / "metrics.json").read_text())["likelihood"]
    print(f"\ndemo finished in {time.time() - t0:.0f} s (training {t_train:.0f} s)")
    print(f"run directory: {run}")
    print(f"  samples.png, reconstructions.png, loss_curves.png, samples/ (grids over training), metrics.json")
    print(f"  test ELBO {m['test_elbo_nats']:.1f} nats = {m['test_elbo_bpd']:.3f} bits/dim; "
          f"IWAE-64 NLL bound {m['test_nll_iwae64_nats']:.1f} nats = {m['test_nll_iwae64_bpd']:.3f} bits/dim")
    print(f"  ({m['protocol']['likelihood_convention']})")


if __name__ == "__main__":
    demo()
