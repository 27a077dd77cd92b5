"""Frame-level NLL on the Bach chorale split: transformer, wavenet, lstm and the independent Bernoulli
baseline trained in the same CPU-time budget, beside published JSB Chorales numbers (issue 18).

    .venv/bin/python benchmarks/chorale_table.py --out DIR [--minutes 10] [--models transformer,wavenet,lstm,bernoulli]
        [--threads 1] [--seed 0] [--transpose 0] [--eval-every 200] [--table-only]

Data: `chorales` (music21's Bach chorales, split 60/20/20 by piece hash, docs/sequences.md), 88-key piano
roll at quarter-note frames (the JSB convention), examples of 128 frames (longer chorales cut into chunks).
Each model trains until its process CPU time (time.process_time, all threads) reaches --minutes; every
--eval-every steps the validation NLL is measured (its CPU time is not counted in the budget) and the best
weights are kept (early stopping on valid). The kept weights are written as a run directory DIR/MODEL
(config with train.steps = the step kept, model.safetensors, data_info.json), so `genlab sample DIR/MODEL
--out x.mid` and `genlab eval DIR/MODEL` work on it; the test NLL is recorded in its metrics.json as
`genlab eval` does. Prints a Markdown table: NLL per frame in nats (and bits) on valid and test.

The published rows are the JSB Chorales benchmark of Boulanger-Lewandowski et al. (2012, ICML, "Modeling
temporal dependencies in high-dimensional sequences"), the same representation (88 keys, quarter-note
frames, NLL per frame, keys of a frame factorised or modelled jointly given the past) but **their
229/76/77 split of 382 chorales**, not ours: our music21 corpus has 350 distinct chorales, its own keys
(not transposed to C) and its own split, so the columns are comparable in scale only.
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
from genlab.config import resolve  # noqa: E402
from genlab.data import load_dataset  # noqa: E402
from genlab.metrics.sequence import evaluate_sequence  # noqa: E402
from genlab.report.results import record_result  # noqa: E402
from genlab.runs import build_model, write_run_files  # noqa: E402
from genlab.training import Trainer  # noqa: E402
from genlab.training import checkpoint as ckpt  # noqa: E402

DATA = {"name": "chorales", "repr": "roll", "frame": 1.0, "length": 128}
MODELS = {
    "transformer": {"width": 128, "heads": 4, "layers": 3, "dropout": 0.2},
    "wavenet": {"channels": 64, "skip": 128, "layers": 6, "stacks": 2},
    "lstm": {"width": 128, "hidden": 256, "layers": 1},
    "bernoulli": {},
}
TRAIN = {"batch_size": 16, "lr": 1e-3, "grad_clip": 1.0, "log_every": 50, "progress": False, "precision": "fp32"}
# NLL per frame (nats) on JSB Chorales as reported in the papers (their split; see the docstring)
PUBLISHED = [
    ("RNN-RBM (Boulanger-Lewandowski et al. 2012)", 7.27),
    ("RNN-NADE (Boulanger-Lewandowski et al. 2012)", 5.56),
    ("LSTM (Bai et al. 2018, TCN paper)", 8.45),
    ("GRU (Bai et al. 2018)", 8.43),
    ("TCN (Bai et al. 2018)", 8.10),
]


class Budget:
    """Stops training at `seconds` of process CPU time, evaluating valid every `every` steps (not counted)."""

    def __init__(self, seconds: float, every: int, valid):
        self.seconds, self.every, self.valid = seconds, every, valid
        self.start, self.excluded = time.process_time(), 0.0
        self.best = (float("inf"), 0, None)
        self.history: list[tuple[int, float]] = []

    def used(self) -> float:
        return time.process_time() - self.start - self.excluded

    def check(self, trainer, step: int) -> None:
        done = self.used() >= self.seconds
        if step % self.every == 0 or done:
            self.evaluate(trainer, step)
        if done:
            trainer.cfg.steps = step  # ends the loop after this step

    def evaluate(self, trainer, step: int) -> None:
        t = time.process_time()
        model = trainer.model
        was = model.training
        model.eval()
        nll = evaluate_sequence(model, self.valid, device=trainer.device)["nll_per_frame_nats"]
        model.train(was)
        self.history.append((step, nll))
        if nll < self.best[0]:
            self.best = (nll, step, {k: v.detach().clone() for k, v in trainer.model_state().items()})
        self.excluded += time.process_time() - t


def train_one(name: str, out: Path, args) -> dict:
    train = {**TRAIN, "steps": 10 ** 7, "seed": args.seed, "threads": args.threads}
    layers = [{"model": MODELS[name], "train": train,
               "data": {**DATA, **({"transpose": args.transpose} if args.transpose else {})}}]
    cfg = resolve(name, layers)
    data = load_dataset(cfg.data.name, cfg.data.split, **cfg.data.options())
    valid = load_dataset(cfg.data.name, "valid", **{k: v for k, v in cfg.data.options().items() if k != "transpose"})
    test = load_dataset(cfg.data.name, "test", **{k: v for k, v in cfg.data.options().items() if k != "transpose"})
    model = build_model(cfg, data.info)
    budget = Budget(args.minutes * 60, args.eval_every, valid)
    trainer = Trainer(model, cfg.train, data, None, callbacks=(budget.check,))
    t0 = time.perf_counter()
    trainer.fit()
    wall = time.perf_counter() - t0
    nll, step, state = budget.best
    model.load_state_dict(state)
    model.eval()
    cfg.train.steps = max(step, 1)
    run = out / name
    if run.exists():
        raise SystemExit(f"{run} exists; give another --out (runs are never overwritten)")
    run.mkdir(parents=True)
    write_run_files(run, cfg, data.info, data.meta)
    ckpt.atomic_save_safetensors({k: v.cpu() for k, v in state.items()}, run / "model.safetensors")
    res = {s: evaluate_sequence(model, d, device=trainer.device) for s, d in (("valid", valid), ("test", test))}
    proto = {**res["test"]["protocol"], "ema": False}
    record_result(run, "sequence-nll", proto, {k: v for k, v in res["test"].items() if k != "protocol"}, cfg.train.steps)
    params = sum(p.numel() for p in model.parameters())
    row = {"model": name, "params": params, "steps": trainer.step, "kept_step": step, "cpu_s": round(budget.used(), 1),
           "wall_s": round(wall, 1), "valid_nats": res["valid"]["nll_per_frame_nats"],
           "test_nats": res["test"]["nll_per_frame_nats"], "test_bits": res["test"]["nll_per_frame_bits"],
           "test_frames": res["test"]["frames"], "history": budget.history, "config": vars(cfg.model)}
    (run / "chorale_table.json").write_text(json.dumps(row, indent=2))
    print(f"{name}: {trainer.step} steps in {row['cpu_s']} CPU s, kept step {step}: valid {row['valid_nats']:.3f}, "
          f"test {row['test_nats']:.3f} nats/frame", flush=True)
    return row


def table(rows: list[dict]) -> str:
    lines = ["| model | parameters | steps (kept) | CPU s | valid NLL/frame (nats) | test NLL/frame (nats) "
             "| test bits/frame |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["test_nats"]):
        lines.append(f"| {r['model']} | {r['params']:,} | {r['steps']} ({r['kept_step']}) | {r['cpu_s']:.0f} | "
                     f"{r['valid_nats']:.3f} | {r['test_nats']:.3f} | {r['test_bits']:.3f} |")
    lines += ["", "published, JSB Chorales (Boulanger-Lewandowski et al. 2012 split: 229/76/77 of 382 chorales, "
                  "transposed to C; not our split):", "", "| model | test NLL/frame (nats) |", "|---|---|"]
    lines += [f"| {m} | {v:.2f} |" for m, v in PUBLISHED]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="directory for one run per model (created; never overwritten)")
    p.add_argument("--minutes", type=float, default=10.0, help="CPU minutes per model (process time)")
    p.add_argument("--models", default="transformer,wavenet,lstm,bernoulli")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--transpose", type=int, default=0, help="transposition augmentation of training pieces (semitones)")
    p.add_argument("--eval-every", type=int, default=200, help="steps between validation NLLs (early stopping)")
    p.add_argument("--table-only", action="store_true", help="print the table of the runs already in --out")
    args = p.parse_args()
    out = Path(args.out)
    names = [m for m in args.models.split(",") if m]
    bad = [m for m in names if m not in MODELS]
    if bad:
        raise SystemExit(f"unknown model {bad[0]!r}; choose from {', '.join(MODELS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.minutes:g} CPU min per model, "
          f"data {DATA}, transpose {args.transpose}", flush=True)
    rows = []
    for name in names:
        if args.table_only:
            f = out / name / "chorale_table.json"
            if f.is_file():
                rows.append(json.loads(f.read_text()))
            continue
        rows.append(train_one(name, out, args))
    print(table(rows))


if __name__ == "__main__":
    main()
