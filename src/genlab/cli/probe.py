"""`genlab probe RUN --labels-per-class 10,100,all`: the lecture's "after training, replace the decoder
with a classifier". A logistic-regression classifier is fitted on frozen encoder features using only N
labels per class, and the same classifier on raw pixels with the same labels; both test accuracies are
printed (mean ± std over several random label draws)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data import load_dataset
from ..errors import GenlabError
from ..report.results import load_results, record_result, refresh_report
from ..runs import load_run
from .common import add_device, device, say


def add_parser(sub) -> None:
    p = sub.add_parser("probe", help="few-label classifier on frozen encoder features vs raw pixels")
    p.add_argument("run", help="run directory of a model with an encoder (ae, vae)")
    p.add_argument("--labels-per-class", default="10,100,all",
                   help="comma-separated label budgets per class, or 'all' (default 10,100,all)")
    p.add_argument("--repeats", type=int, default=5, help="random label draws per budget (default 5; 1 for all)")
    p.add_argument("--classifier", choices=["logreg", "knn"], default="logreg",
                   help="logreg: standardise + logistic regression (C=1); knn: standardise + 1-nearest neighbour")
    p.add_argument("--seed", type=int, default=0, help="seed of the label draws (default 0)")
    add_device(p)
    p.set_defaults(func=run)


def _budgets(spec: str) -> list[int | None]:
    out = []
    for part in spec.split(","):
        part = part.strip()
        if part == "all":
            out.append(None)
        elif part.isdigit() and int(part) > 0:
            out.append(int(part))
        else:
            raise GenlabError(f"--labels-per-class has {part!r}; give positive integers or 'all', e.g. 10,100,all")
    return out


@torch.no_grad()
def features(model, data, dev, batch: int = 1000) -> np.ndarray:
    return torch.cat([model.encode(x).float().cpu() for x, _ in data.batches(batch, dev)]).numpy()


def pick(y: np.ndarray, per_class: int, rng: np.random.RandomState) -> np.ndarray:
    idx = []
    for c in np.unique(y):
        pool = np.flatnonzero(y == c)
        if per_class > len(pool):
            raise GenlabError(f"--labels-per-class {per_class} exceeds the {len(pool)} examples of class {c}")
        idx.append(rng.choice(pool, per_class, replace=False))
    return np.concatenate(idx)


def fit_score(f_train, y_train, f_test, y_test, classifier: str = "logreg") -> float:
    """Test accuracy of the same small classifier fitted on the given training features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    head = LogisticRegression(max_iter=500, C=1.0) if classifier == "logreg" else KNeighborsClassifier(1)
    clf = make_pipeline(StandardScaler(), head)
    clf.fit(f_train, y_train)
    return float(clf.score(f_test, y_test))


def run(args) -> int:
    dev = device(args.device)
    r = load_run(args.run, device=dev)
    load_results(args.run)  # an unreadable metrics.json stops us before the probe, not after
    if "encode" not in r.model.capabilities():
        raise GenlabError(f"model {r.config.model_name!r} has no encoder to probe; use an ae or vae run")
    d = r.config.data
    train = load_dataset(d.name, d.split, **d.options())
    test = load_dataset(d.name, d.eval_split, **d.options())
    if train.y is None or test.y is None:
        raise GenlabError(f"dataset {d.name!r} has no labels; probing needs a labelled dataset")
    budgets = _budgets(args.labels_per_class)
    f_tr, f_te = features(r.model, train, dev), features(r.model, test, dev)
    p_tr, p_te = train.all().flatten(1).numpy(), test.all().flatten(1).numpy()
    y_tr, y_te = train.y.numpy(), test.y.numpy()
    rows = {}
    head = "logistic regression" if args.classifier == "logreg" else "1-nearest-neighbour"
    say(f"probe: {head} on frozen {r.config.model_name} encoder features "
        f"({f_tr.shape[1]}-d) vs raw pixels ({p_tr.shape[1]}-d); test split {test.name}:{test.split}")
    for b in budgets:
        reps = 1 if b is None else args.repeats
        acc_f, acc_p = [], []
        for rep in range(reps):
            idx = np.arange(len(y_tr)) if b is None else pick(y_tr, b, np.random.RandomState(args.seed + rep))
            acc_f.append(fit_score(f_tr[idx], y_tr[idx], f_te, y_te, args.classifier))
            acc_p.append(fit_score(p_tr[idx], y_tr[idx], p_te, y_te, args.classifier))
        name = "all" if b is None else str(b)
        diff = np.array(acc_f) - np.array(acc_p)  # paired: the same labelled images for both
        rows[name] = {"encoder_acc": float(np.mean(acc_f)), "encoder_std": float(np.std(acc_f)),
                      "pixels_acc": float(np.mean(acc_p)), "pixels_std": float(np.std(acc_p)),
                      "paired_diff": float(diff.mean()), "paired_diff_std": float(diff.std()),
                      "encoder_wins": int((diff > 0).sum()), "repeats": reps}
        say(f"labels/class {name:>4}: encoder {100 * np.mean(acc_f):.2f}% ± {100 * np.std(acc_f):.2f}   "
            f"pixels {100 * np.mean(acc_p):.2f}% ± {100 * np.std(acc_p):.2f}   encoder − pixels "
            f"{100 * diff.mean():+.2f} ± {100 * diff.std():.2f} points (encoder ahead in {(diff > 0).sum()}/{reps} "
            f"draw{'s' * (reps > 1)})")
    proto = {"classifier": f"standardise + {head}" + (" (C=1)" if args.classifier == "logreg" else ""),
             "train_split": f"{train.name}:{train.split}", "test_split": f"{test.name}:{test.split}",
             "seed": args.seed, "labels_per_class": ",".join(rows), "repeats": args.repeats, "ema": r.ema}
    record_result(args.run, "probe", proto, {"results": rows}, r.step, refresh=False)
    report = refresh_report(args.run)
    say(f"kept in {Path(args.run) / 'metrics.json'} with its protocol (step {r.step})"
        + (f"; report: {report}" if report else ""))
    return 0
