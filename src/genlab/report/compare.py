"""One page comparing runs: summary, results measured under the same protocol side by side (and, for the
others, which protocol fields differ), config differences, curves overlaid, sample grids and explore
pictures side by side."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from ..errors import GenlabError
from ..training.checkpoint import atomic_write_text
from .html import data_uri, esc, figure, file_uri, flatten, page, table
from .results import INCIDENTAL, Record
from .run_report import RunFiles, heading, read_run, record_html, short, weights_label

# Protocol fields that say which weights of a run were measured or which other metrics were computed
# alongside, not how a number was measured: runs may differ in them (like the training step) and still be
# compared; each column shows them.
RUN_STATE = frozenset({"ema", "metrics"})
_ABSENT = "(absent)"


def _labels(runs: list[RunFiles]) -> list[str]:
    names = [r.name for r in runs]
    return names if len(set(names)) == len(names) else [str(r.path) for r in runs]


def _flat_config(cfg: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in cfg.items():
        if isinstance(v, dict) and v:
            out.update(_flat_config(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _config_diff(runs: list[RunFiles]) -> list[list]:
    flat = [_flat_config(r.config) for r in runs]
    keys = sorted({k for f in flat for k in f})
    return [[k, *[f.get(k, "—") for f in flat]] for k in keys if len({repr(f.get(k)) for f in flat}) > 1]


def measurement(r: Record) -> dict:
    """The protocol fields two results must share to be put side by side."""
    return {k: v for k, v in r.protocol.items() if k not in INCIDENTAL and k not in RUN_STATE}


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True)


def protocol_diff(a: Record, b: Record) -> list[tuple[str, Any, Any]]:
    """(field, value in a, value in b) for every measurement field that differs (absent counts)."""
    pa, pb = measurement(a), measurement(b)
    return [(k, pa.get(k, _ABSENT), pb.get(k, _ABSENT)) for k in sorted(set(pa) | set(pb))
            if (k in pa) != (k in pb) or _canon(pa.get(k)) != _canon(pb.get(k))]


@dataclass
class Group:
    """Results of one kind measured under one protocol, at most one per run (its latest step)."""

    kind: str
    protocol: dict
    members: dict[int, Record] = field(default_factory=dict)  # run index -> record


@dataclass
class Comparison:
    groups: list[Group]  # measured the same way in two or more runs: side by side
    unmatched: list[tuple[int, Record]]  # no same-protocol counterpart in another run
    notes: list[str]  # for each of those, why it was not compared


def _newer(a: Record, b: Record) -> bool:
    return ((-1 if a.step is None else a.step), a.recorded_at or "") > ((-1 if b.step is None else b.step),
                                                                      b.recorded_at or "")


def compare_results(results: list[list[Record]], labels: list[str]) -> Comparison:
    """Group the runs' results by (kind, measurement protocol); explain the ones left alone."""
    buckets: dict[str, Group] = {}
    for i, recs in enumerate(results):
        for r in recs:
            g = buckets.setdefault(_canon([r.kind, measurement(r)]), Group(r.kind, measurement(r)))
            if i not in g.members or _newer(r, g.members[i]):
                g.members[i] = r
    groups = [g for g in buckets.values() if len(g.members) > 1]
    unmatched = [(i, r) for g in buckets.values() if len(g.members) == 1 for i, r in g.members.items()]
    notes: list[str] = []
    alone = {id(r) for _, r in unmatched}
    for i, r in unmatched:
        for j, recs in enumerate(results):
            same_kind = [o for o in recs if o.kind == r.kind]
            if j == i:
                continue
            if not same_kind:
                others = any(o.kind == r.kind for k, rs in enumerate(results) if k != i for o in rs)
                notes.append(f"{r.kind}: {labels[j]} has no {r.kind} results to compare with {labels[i]}'s"
                             if others else f"{r.kind}: only {labels[i]} has results of this kind")
                continue
            near = min(same_kind, key=lambda o: len(protocol_diff(r, o)))
            if id(near) in alone:  # neither has a counterpart: one note for the pair, the earlier run first
                a, b, la, lb = (r, near, labels[i], labels[j]) if i < j else (near, r, labels[j], labels[i])
                head = f"{r.kind}: {la} vs {lb} not compared, their protocols differ in "
            else:
                a, b = r, near
                head = (f"{r.kind}: {labels[i]}'s result with no counterpart in {labels[j]} (not compared); "
                        f"the nearest protocol differs in ")
            notes.append(head + ", ".join(f"{k} ({short(x)} vs {short(y)})" for k, x, y in protocol_diff(a, b)))
    return Comparison(groups, unmatched, list(dict.fromkeys(notes)))


def _column(label: str, r: Record) -> str:
    parts = [f"step {r.step}" if r.step is not None else "", weights_label(r)]
    return f"{label} ({', '.join(p for p in parts if p)})" if any(parts) else label


def metrics_compared(runs: list[RunFiles], labels: list[str]) -> tuple[list[str], list[str]]:
    """(HTML pieces, notes) of the metrics part of the comparison page."""
    if not any(r.results for r in runs):
        return ["<p>No run has metrics.json yet.</p>"], []
    c = compare_results([r.results for r in runs], labels)
    out = ["<p>Numbers stand side by side only where they were measured under the same protocol (extractor "
           "and weights hash, precision, split, n, seed, ...); the runs may differ in training step, EMA or "
           "live weights, and the other metrics computed alongside, which each column shows. A run "
           "evaluated several times under one protocol shows its latest step.</p>"]
    for g in c.groups:
        idx = sorted(g.members)
        recs = [g.members[i] for i in idx]
        keys = list(dict.fromkeys(k for r in recs for k, _ in flatten(r.values)))
        vals = [dict(flatten(r.values)) for r in recs]
        rows = [[k, *[v.get(k, "—") for v in vals]] for k in keys]
        same = [o for o in c.groups if o.kind == g.kind]
        tag = ""
        if len(same) > 1:
            differ = sorted({k for o in same for k in set(o.protocol) | set(g.protocol)
                             if _canon(o.protocol.get(k)) != _canon(g.protocol.get(k))})
            tag = " — " + "; ".join(f"{k}={short(g.protocol.get(k, _ABSENT))}" for k in differ)
        out.append(f"<h3>{esc(g.kind)}{esc(tag)}: {len(idx)} runs, same protocol</h3>")
        head = ("metric", *[_column(labels[i], g.members[i]) for i in idx])
        shared = table(("shared protocol field", "value"), g.protocol.items(), "kv")
        out.append(f"<div class=\"row\"><div>{table(head, rows)}</div><div>{shared}</div></div>")
    if c.notes:
        out.append("<h3>Not compared</h3><ul>" + "".join(f"<li>{esc(n)}</li>" for n in c.notes) + "</ul>")
    if c.unmatched:
        out.append("<h3>Results without a same-protocol counterpart</h3>")
        out += [record_html(r, title=f"{labels[i]}: {heading(r)}") for i, r in c.unmatched]
    return out, c.notes


def build_compare(run_dirs: Sequence[str | Path], notes: Optional[list[str]] = None) -> str:
    """The comparison page; `notes` (if given) receives one line per result that could not be compared."""
    from ..viz.curves import loss_keys, overlaid_png

    if len(run_dirs) < 2:
        raise GenlabError("compare needs at least two run directories: genlab compare RUN1 RUN2 ... --out page.html")
    runs = [read_run(d) for d in run_dirs]
    labels = _labels(runs)
    body = [f"<h1>Comparing {len(runs)} runs</h1>", "<h2>Summary</h2>"]
    rates = [r.median_rate() for r in runs]
    body.append(table(("run", "model", "data", "steps logged", "samples/s (median)"),
                      [(lab, r.model, r.dataset, r.last_step, "—" if x is None else round(x, 1))
                       for lab, r, x in zip(labels, runs, rates)]))
    body.append("<h2>Metrics (metrics.json)</h2>")
    pieces, why = metrics_compared(runs, labels)
    body += pieces
    if notes is not None:
        notes += why
    diff = _config_diff(runs)
    body += ["<h2>Config differences</h2>",
             table(("key", *labels), diff) if diff else "<p>The configs are identical.</p>"]
    series = {lab: r.rows for lab, r in zip(labels, runs)}
    keys = sorted({k for r in runs for k in loss_keys(r.rows)}) + ["samples_per_s"]
    body += ["<h2>Curves overlaid</h2>", figure(data_uri(overlaid_png(series, keys, max_panels=12), "image/png"))]
    body.append("<h2>Latest sample grids</h2><div class=\"row\">")
    body += [figure(file_uri(r.samples[-1][1]), f"{lab}: step {r.samples[-1][0]}", width=300) if r.samples
             else f"<p>{esc(lab)}: no sample grid</p>" for lab, r in zip(labels, runs)]
    body.append("</div>")
    names = sorted({f.name for r in runs for f, _ in r.explore})
    if names:
        body.append("<h2>Exploration side by side</h2>")
    for n in names:
        cells = [figure(file_uri(f), f"{lab}: {meta.get('caption', n)}", width=max(300, 1240 // len(runs) - 16))
                 for lab, r in zip(labels, runs) for f, meta in r.explore if f.name == n]
        body.append(f"<h3>{esc(n)}</h3><div class=\"row\">" + "".join(cells) + "</div>")
    return page("genlab compare: " + ", ".join(labels), body)


def write_compare(run_dirs: Sequence[str | Path], out: str | Path, notes: Optional[list[str]] = None) -> Path:
    path = Path(out)
    atomic_write_text(path, build_compare(run_dirs, notes))
    return path
