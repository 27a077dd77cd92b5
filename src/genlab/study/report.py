"""`genlab study report DIR`: the study's table, score distributions, budget curves and HTML summary.

Read from the files only (each trial's metrics.json, through records.find), so a copied study directory
reports the same numbers; trial states from the Optuna storage are added where it can be opened.

    STUDY/report.html              table, figures, every trial with a link to its own report.html
    STUDY/report/table.md, .csv    per group: n, mean ± std, median, best (and which trial), pending
    STUDY/report/summary.json      the same numbers, and every trial's score
    STUDY/report/distributions.png scores per group (box, every trial a dot)
    STUDY/report/budget.png        expected best score of k random trials vs k, bootstrap 5-95 % band
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Optional

from ..report import html as H
from ..training.checkpoint import atomic_write_bytes, atomic_write_text
from . import layout, records, stats
from .spec import StudySpec, from_dict


def collect(out: Path, spec: StudySpec, states: Optional[dict[str, str]] = None) -> list[dict]:
    """One row per planned trial: name, group, params, status, score (None unless complete), step."""
    rows = []
    for plan in spec.plans():
        run_dir = layout.trial_dir(out, plan.name)
        rec = records.find(spec, run_dir) if run_dir.is_dir() else None
        status = "complete" if rec else ("unfinished" if run_dir.is_dir() else "pending")
        if rec is None and states and states.get(plan.name) in ("failed", "running", "waiting"):
            status = states[plan.name]
        rows.append({"name": plan.name, "group": plan.group, "params": plan.params, "status": status,
                     "value": float(rec.values[spec.eval.objective]) if rec else None,
                     "step": rec.step if rec else None, "report": (run_dir / "report.html").is_file()})
    return rows


def groups(spec: StudySpec, rows: list[dict]) -> list[dict]:
    """Per group, in the spec's order: summary statistics of the complete trials and the best trial."""
    minimize = spec.eval.direction == "minimize"
    order = list(dict.fromkeys(r["group"] for r in rows))
    out = []
    for g in order:
        mine = [r for r in rows if r["group"] == g]
        done = [r for r in mine if r["value"] is not None]
        s = stats.summary([r["value"] for r in done], minimize)
        best = (min if minimize else max)(done, key=lambda r: r["value"])["name"] if done else None
        out.append({"group": g, **s, "best_trial": best, "planned": len(mine), "values": [r["value"] for r in done]})
    return out


def _num(v: Optional[float]) -> str:
    return "—" if v is None else f"{v:.2f}"


def table_markdown(spec: StudySpec, table: list[dict]) -> str:
    obj = spec.eval.objective
    lines = [f"| group | n | {obj} mean ± std | median | best | best trial |", "|---|---|---|---|---|---|"]
    for t in table:
        spread = f"{_num(t['mean'])} ± {_num(t['std'])}" if t["n"] else "—"
        n = f"{t['n']}" + (f" of {t['planned']}" if t["n"] != t["planned"] else "")
        lines.append(f"| {t['group']} | {n} | {spread} | {_num(t['median'])} | {_num(t['best'])} | "
                     f"{t['best_trial'] or '—'} |")
    return "\n".join(lines) + "\n"


def _csv(spec: StudySpec, table: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["group", "n", "planned", "mean", "std", "median", "best", "worst", "best_trial"])
    for t in table:
        w.writerow([t["group"], t["n"], t["planned"], *(("" if t[k] is None else repr(t[k]))
                                                        for k in ("mean", "std", "median", "best", "worst")),
                    t["best_trial"] or ""])
    return buf.getvalue()


def _plots(spec: StudySpec, table: list[dict], folder: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    import numpy as np

    shown = [t for t in table if t["n"]]
    if not shown:
        return {}
    obj, minimize = spec.eval.objective, spec.eval.direction == "minimize"
    paths = {"distributions": folder / "distributions.png", "budget": folder / "budget.png"}
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(shown) + 2), 3.6))
    ax.boxplot([t["values"] for t in shown], showfliers=False)
    rng = np.random.default_rng(0)
    for i, t in enumerate(shown, start=1):
        ax.plot(i + rng.uniform(-0.12, 0.12, len(t["values"])), t["values"], "o", ms=4, alpha=0.7, color="C0")
    ax.set_xticks(range(1, len(shown) + 1), [t["group"] for t in shown], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(obj)
    ax.set_title(f"{spec.name}: {obj} per group (every trial a dot)", fontsize=9)
    fig.tight_layout()
    fig.savefig(paths["distributions"], dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    for i, t in enumerate(shown):
        k = np.arange(1, t["n"] + 1)
        ax.plot(k, stats.expected_best(t["values"], minimize), "-o", ms=3, color=f"C{i % 10}", label=t["group"])
        if t["n"] > 1:
            lo, hi = stats.bootstrap_band(t["values"], minimize)
            ax.fill_between(k, lo, hi, color=f"C{i % 10}", alpha=0.15, lw=0)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("number of trials k")
    ax.set_ylabel(f"expected {'min' if minimize else 'max'} {obj} of k")
    ax.set_title("best score vs budget (bootstrap 5-95 % band)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(paths["budget"], dpi=110)
    plt.close(fig)
    return paths


def _html(spec: StudySpec, out: Path, rows: list[dict], table: list[dict], figures: dict[str, Path]) -> str:
    obj = spec.eval.objective
    e = spec.eval
    body = [f"<h1>study {H.esc(spec.name)}</h1>",
            f'<p class="sub">{H.esc(spec.model)} on {H.esc(spec.data)}; {len(rows)} trials '
            f"({sum(r['status'] == 'complete' for r in rows)} complete); {obj} ({'lower' if e.direction == 'minimize' else 'higher'}"
            f" is better) of {e.n} samples vs the {H.esc(e.split or 'eval')} split, metrics {','.join(e.metrics)}, "
            f"extractor {H.esc(e.extractor)}</p>", "<h2>Per group</h2>",
            H.table(["group", "n", f"{obj} mean", "std", "median", "best", "best trial"],
                    [[t["group"], t["n"], *[("—" if t[k] is None else round(t[k], 4)) for k in
                                            ("mean", "std", "median", "best")], t["best_trial"] or "—"] for t in table])]
    if figures:
        body.append('<h2>Distributions and budget</h2><div class="row">')
        body += [H.figure(H.file_uri(p), caption) for p, caption in
                 ((figures["distributions"], f"{obj} of every complete trial, per group"),
                  (figures["budget"], f"expected best {obj} among k random trials of a group (exact, "
                                       "Lucic et al.'s budget curve), bootstrap band"))]
        body.append("</div>")
    body.append("<h2>Trials</h2>")
    trs = []
    for r in rows:
        link = (f'<a href="trials/{H.esc(r["name"])}/report.html">{H.esc(r["name"])}</a>' if r["report"]
                else H.esc(r["name"]))
        value = "—" if r["value"] is None else f"{r['value']:.4f}"
        trs.append(f"<tr><td>{link}</td><td>{H.esc(r['group'])}</td><td>{H.esc(r['status'])}</td>"
                   f'<td class="num">{value}</td><td class="num">{r["step"] if r["step"] is not None else "—"}</td></tr>')
    body.append(f"<table><tr><th>trial</th><th>group</th><th>status</th><th>{H.esc(obj)}</th><th>step</th></tr>"
                + "".join(trs) + "</table>")
    return H.page(f"study {spec.name}", body)


def write(out: Path, states: Optional[dict[str, str]] = None) -> tuple[Path, str]:
    """Write every report file of the study in `out`; returns (report.html, the table as Markdown)."""
    out = Path(out)
    spec = from_dict(layout.read_meta(out)["spec"], str(out / layout.META))
    rows = collect(out, spec, states)
    table = groups(spec, rows)
    folder = out / "report"
    folder.mkdir(exist_ok=True)
    md = table_markdown(spec, table)
    atomic_write_text(folder / "table.md", md)
    atomic_write_text(folder / "table.csv", _csv(spec, table))
    atomic_write_text(folder / "summary.json", json.dumps({"study": spec.name, "objective": spec.eval.objective,
                                                           "direction": spec.eval.direction, "groups": table,
                                                           "trials": rows}, indent=2))
    figures = _plots(spec, table, folder)
    page = out / "report.html"
    atomic_write_bytes(page, _html(spec, out, rows, table, figures).encode())
    return page, md
