"""One page comparing runs: summary, metrics table, config differences, curves overlaid, sample grids and
explore pictures side by side."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..errors import GenlabError
from ..training.checkpoint import atomic_write_text
from .html import data_uri, esc, figure, file_uri, flatten, page, protocols, table
from .run_report import RunFiles, read_run


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


def _metrics_rows(runs: list[RunFiles]) -> list[list]:
    flat = [dict(flatten(r.metrics)) for r in runs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    return [[k, *[f.get(k, "—") for f in flat]] for k in keys]


def build_compare(run_dirs: Sequence[str | Path]) -> str:
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
    rows = _metrics_rows(runs)
    body.append(table(("metric", *labels), rows) if rows else "<p>No run has metrics.json yet.</p>")
    for lab, r in zip(labels, runs):
        for key, proto in protocols(r.metrics):
            body.append(f"<h3>{esc(lab)}: protocol of {esc(key)}</h3>" + table(("field", "value"), proto.items(), "kv"))
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


def write_compare(run_dirs: Sequence[str | Path], out: str | Path) -> Path:
    path = Path(out)
    atomic_write_text(path, build_compare(run_dirs))
    return path
