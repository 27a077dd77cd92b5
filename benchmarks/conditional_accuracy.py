"""Class-conditional samples judged by a classifier: train `cdcgan` (or `cvae`) on Fashion-MNIST through
the Python API, draw `--per-class` samples of every class with sample(n, cond={"y": c}), and classify
them with the committed `fmnist-classifier`; accuracy = share of samples classified as the class they
were asked for. The classifier's accuracy on the real test images is printed beside it, per class, as
the reference (some classes, e.g. shirt, are hard even for real images).

    .venv/bin/python benchmarks/conditional_accuracy.py --out DIR [--model cdcgan|cvae] [--steps N]
        [--per-class 1000] [--threads 1] [--seed 0] [-- --model.loss=hinge --train.ema=0.999 ...]

DIR becomes the run directory (config, weights, samples/step-*.png with one row per class, metrics), as
written by `genlab train`; the accuracies go to DIR/conditional_accuracy.json. Samples use the EMA
weights when the run has them. Defaults: cdcgan arch=dcgan with 32-channel G and D
(4x fewer multiply-adds than 64: about 8 steps/s on one thread, so 4,500 steps take about 10 minutes),
non-saturating loss, batch 64, Adam(2e-4, 0.5, 0.999), EMA 0.999 of G; cvae the vae-fashion-mnist
preset (conv, 16-d latent, discretised logistic, 5,000 steps). Goal (cdcgan): >= 85 % overall. The
pixel spread column (per-pixel std within a class) guards against a generator that reaches the
accuracy by drawing one prototype per class.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import genlab.components  # noqa: E402,F401
from genlab.config import parse_overrides, read_yaml, resolve  # noqa: E402
from genlab.data import load_dataset  # noqa: E402
from genlab.data.fashion_mnist import CLASSES  # noqa: E402
from genlab.registry import EXTRACTORS  # noqa: E402
from genlab.runs import build_model, load_run, write_run_files  # noqa: E402
from genlab.training import Trainer  # noqa: E402
from genlab.training import checkpoint as ckpt  # noqa: E402

PRESETS = Path(__file__).resolve().parents[1] / "src" / "genlab" / "configs"
DEFAULTS = {
    "cdcgan": {"model": {"arch": "dcgan", "loss": "nonsaturating", "latent_dim": 64, "g_channels": 32,
                         "d_channels": 32},
               "train": {"steps": 4500, "batch_size": 64, "lr": 2e-4, "betas": [0.5, 0.999], "ema": 0.999,
                         "log_every": 100, "ckpt_every": 1000, "sample_every": 1000}},
    "cvae": {**{k: v for k, v in read_yaml(PRESETS / "vae-fashion-mnist.yaml").items() if k in ("model", "train")}},
}


def train(model_name: str, out: Path, steps: int, seed: int, overrides: dict) -> tuple[Path, float]:
    layers = [DEFAULTS[model_name], {"train": {"seed": seed, "progress": False, **({"steps": steps} if steps else {})},
                                     "data": {"name": "fashion-mnist"}}, overrides]
    cfg = resolve(model_name, layers)
    data = load_dataset(cfg.data.name, cfg.data.split, **cfg.data.options())
    model = build_model(cfg, data.info)
    run_dir = ckpt.new_run_dir(out)
    write_run_files(run_dir, cfg, data.info, data.meta)
    print(f"training {model_name} for {cfg.train.steps} steps into {run_dir} (model {vars(cfg.model)})", flush=True)
    t0 = time.perf_counter()
    Trainer(model, cfg.train, data, run_dir).fit()
    return run_dir, time.perf_counter() - t0


@torch.no_grad()
def classify(extractor, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """Predicted classes (N,) of images x (N, 1, 28, 28) in [0, 1]."""
    preds = [extractor.forward(extractor.prepare(x[i:i + batch]))[1].argmax(1) for i in range(0, len(x), batch)]
    return torch.cat(preds)


def mean(v: list[float]) -> float:
    return sum(v) / len(v)


def pixel_spread(x: torch.Tensor) -> float:
    """Within-class diversity: the per-pixel standard deviation over images x (N, ...), averaged over pixels."""
    return float(x.flatten(1).std(0).mean())


@torch.no_grad()
def sample_accuracy(model, extractor, per_class: int, seed: int, batch: int = 500) -> tuple[list[float], list[float]]:
    """Per class: the share of per_class samples classified as that class, and their pixel spread."""
    g = torch.Generator(model.device).manual_seed(seed)
    acc, spread = [], []
    for c in range(model.n_classes):
        hits, xs = 0, []
        for i in range(0, per_class, batch):
            n = min(batch, per_class - i)
            x = model.sample(n, generator=g, cond={"y": torch.full((n,), c, dtype=torch.long)}).float().clamp(0, 1)
            hits += int((classify(extractor, x) == c).sum())
            xs.append(x)
        acc.append(hits / per_class)
        spread.append(pixel_spread(torch.cat(xs)))
    return acc, spread


@torch.no_grad()
def real_accuracy(extractor) -> tuple[list[float], list[float]]:
    """The classifier on the real test images: per-class accuracy and pixel spread."""
    test = load_dataset("fashion-mnist", "test")
    batch = test.batch(torch.arange(len(test)), torch.device("cpu"), None)
    pred = classify(extractor, batch.x)
    classes = range(len(CLASSES))
    return ([float((pred[batch.y == c] == c).float().mean()) for c in classes],
            [pixel_spread(batch.x[batch.y == c]) for c in classes])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="new run directory")
    ap.add_argument("--model", choices=sorted(DEFAULTS), default="cdcgan")
    ap.add_argument("--steps", type=int, default=0, help="training steps (default: cdcgan 4500, cvae 5000)")
    ap.add_argument("--per-class", type=int, default=1000, help="samples drawn and classified per class")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("overrides", nargs="*", help="config overrides after --, e.g. -- --model.loss=hinge")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    run_dir, train_s = train(args.model, Path(args.out), args.steps, args.seed, parse_overrides(args.overrides))
    t0 = time.perf_counter()
    run = load_run(run_dir, use_ema=True)
    model = run.model.eval()
    extractor = EXTRACTORS["fmnist-classifier"](torch.device("cpu"))
    acc, spread = sample_accuracy(model, extractor, args.per_class, args.seed)
    ref, ref_spread = real_accuracy(extractor)
    eval_s = time.perf_counter() - t0
    print(f"\n{args.model}, {run.config.train.steps} steps ({train_s:.0f} s training, {eval_s:.0f} s evaluation, "
          f"{torch.get_num_threads()} thread(s)), EMA weights: {run.ema}")
    print(f"{'':<14}{'accuracy':^22}{'pixel spread':^22}")
    print(f"{'class':<14}{'samples':>11}{'real test':>11}{'samples':>11}{'real test':>11}")
    for name, a, r, s, rs in zip(CLASSES, acc, ref, spread, ref_spread):
        print(f"{name:<14}{100 * a:>10.1f}%{100 * r:>10.1f}%{s:>11.3f}{rs:>11.3f}")
    overall, overall_ref = mean(acc), mean(ref)
    print(f"{'overall':<14}{100 * overall:>10.1f}%{100 * overall_ref:>10.1f}%{mean(spread):>11.3f}"
          f"{mean(ref_spread):>11.3f}")
    print(f"({args.per_class} samples per class; real test: the classifier on the 10,000 test images; pixel spread: "
          "per-pixel std within a class, averaged over pixels, a diversity check)")
    result = {"model": args.model, "steps": run.config.train.steps, "train_s": round(train_s, 1),
              "eval_s": round(eval_s, 1), "threads": torch.get_num_threads(), "ema": run.ema,
              "per_class": args.per_class, "accuracy": dict(zip(CLASSES, acc)), "overall": overall,
              "pixel_spread": dict(zip(CLASSES, spread)), "real_test_accuracy": dict(zip(CLASSES, ref)),
              "real_test_overall": overall_ref, "real_test_pixel_spread": dict(zip(CLASSES, ref_spread)),
              "extractor": extractor.protocol()}
    (run_dir / "conditional_accuracy.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
