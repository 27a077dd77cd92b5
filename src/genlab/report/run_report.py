"""`report.html` of one run directory: config, curves, throughput, sample grids over training, every result
of metrics.json with its protocol and step, and the explore pictures present (RUN/explore/)."""
from __future__ import annotations

import json
import re
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import GenlabError
from ..training.checkpoint import atomic_write_text
from .html import data_uri, esc, figure, file_uri, flatten, fmt, page, table
from .results import INCIDENTAL, Record, load_results

_STEP = re.compile(r"step-(\d+)\.png$")


@dataclass
class RunFiles:
    """What a run directory holds that a report shows (missing parts are simply empty)."""

    path: Path
    config_text: str
    config: dict
    rows: list[dict]
    results: list[Record]  # every result of metrics.json, oldest first
    samples: list[tuple[int, Path]]  # (step, grid PNG), oldest first
    explore: list[tuple[Path, dict]] = field(default_factory=list)  # (picture, {"caption", "command"})

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model(self) -> str:
        return str(self.config.get("model_name", "?"))

    @property
    def dataset(self) -> str:
        d = self.config.get("data") or {}
        return f"{d.get('name', '?')}:{d.get('split', '?')}"

    @property
    def last_step(self) -> int:
        return max((r.get("step", 0) for r in self.rows), default=0)

    def median_rate(self) -> Optional[float]:
        rates = [r["samples_per_s"] for r in self.rows if isinstance(r.get("samples_per_s"), (int, float))]
        return float(statistics.median(rates)) if rates else None


def read_run(run_dir: str | Path) -> RunFiles:
    import yaml

    from ..viz.plots import read_metrics

    p = Path(run_dir)
    if not (p / "config.yaml").is_file():
        raise GenlabError(f"{str(run_dir)!r} is not a genlab run directory (no config.yaml); give the "
                          "directory that 'genlab train' printed")
    text = (p / "config.yaml").read_text()
    results = load_results(p)
    samples = sorted((int(m.group(1)), f) for f in (p / "samples").glob("step-*.png") if (m := _STEP.search(f.name)))
    return RunFiles(p, text, yaml.safe_load(text) or {}, read_metrics(p / "metrics.jsonl"), results, samples,
                    _explore_files(p / "explore"))


def _explore_files(folder: Path) -> list[tuple[Path, dict]]:
    if not folder.is_dir():
        return []
    try:
        index = json.loads((folder / "index.json").read_text()) if (folder / "index.json").is_file() else {}
    except ValueError:
        index = {}
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in (".png", ".gif") and f.is_file())
    return [(f, index.get(f.name, {})) for f in files]


def spread(items: list, k: int) -> list:
    """At most k items, evenly spaced, first and last included."""
    if len(items) <= k:
        return list(items)
    idx = sorted({round(i * (len(items) - 1) / (k - 1)) for i in range(k)})
    return [items[i] for i in idx]


def loss_curves_uri(run: RunFiles) -> Optional[str]:
    from ..viz.plots import loss_curves

    if not run.rows:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = loss_curves(run.path / "metrics.jsonl", Path(tmp) / "curves.png", title=f"{run.model} on {run.dataset}")
        return file_uri(out)


def summary_rows(run: RunFiles) -> list[tuple[str, object]]:
    train = run.config.get("train") or {}
    last = run.rows[-1] if run.rows else {}
    rate = run.median_rate()
    rows = [("model", run.model), ("data", run.dataset), ("steps logged", f"{run.last_step} of {train.get('steps', '?')}"),
            ("batch size", train.get("batch_size", "?")),
            ("samples/s (median of logged intervals)", f"{rate:.1f}" if rate is not None else "not logged"),
            ("wall time of the last session (s)", last.get("time_s", "not logged")),
            ("final weights", "yes" if (run.path / "model.safetensors").is_file() else "no (checkpoints only)"),
            ("EMA weights", "yes" if (run.path / "ema.safetensors").is_file() else "no")]
    prec = run.path / "precision.json"
    if prec.is_file():
        import json

        try:
            p = json.loads(prec.read_text())
            rows.append(("arithmetic", f"{p['used']} (train.precision={p['requested']}: {p['why']})"))
        except (ValueError, KeyError, TypeError):
            rows.append(("arithmetic", "precision.json unreadable"))
    rows += [(f"last {k}", v) for k, v in last.items() if k not in ("step", "samples_per_s", "time_s")]
    return rows


def data_section(run_dir: Path) -> list[str]:
    """The run's fields (data_info.json): kind, shape, units, normaliser, periodic axes, gaps."""
    p = run_dir / "data_info.json"
    try:
        raw = json.loads(p.read_text())
    except (OSError, ValueError):
        return ["<p>No data_info.json in this run.</p>"]
    from ..fields import DataInfo

    try:
        info = DataInfo.from_dict(raw)
    except (KeyError, TypeError, ValueError):
        return [f"<p>{esc(p)} could not be read as field specs.</p>"]
    rows = []
    for name, s in info.fields.items():
        norm = s.normalizer
        rows.append((name + (" (primary)" if name == info.primary else ""), s.describe(),
                     f"model = (data − {', '.join(f'{v:.4g}' for v in norm.offset)}) / "
                     f"{', '.join(f'{v:.4g}' for v in norm.scale)}" if not norm.is_identity else "identity"))
    out = [table(("field", "spec", "normaliser"), rows)]
    facts = [(k, raw[k]) for k in ("source", "variable", "long_name", "units", "observed_fraction", "split_rule")
             if raw.get(k) is not None]
    if facts:
        out.append(table(("", ""), facts, "kv"))
    return out


def weights_label(r: Record) -> str:
    ema = r.protocol.get("ema")
    return "EMA weights" if ema is True else "live weights" if ema is False else ""


def distinguishing(records: list[Record]) -> dict[int, str]:
    """For records of one kind: the protocol fields whose values differ between them, as 'k=v; ...' per
    record index (empty when a kind has one record), so two FIDs of a run are told apart in headings."""
    keys = sorted({k for r in records for k in r.protocol if k not in INCIDENTAL})
    differ = [k for k in keys if len({json.dumps(r.protocol.get(k), sort_keys=True) for r in records}) > 1]
    return {i: "; ".join(f"{k}={short(r.protocol.get(k, '—'))}" for k in differ) for i, r in enumerate(records)}


def short(v, n: int = 24) -> str:
    s = fmt(v)
    return s if len(s) <= n else s[:12] + "…"


def heading(r: Record, extra: str = "") -> str:
    parts = [r.kind, f"step {r.step}" if r.step is not None else "step not recorded", weights_label(r), extra,
             f"recorded {r.recorded_at}" if r.recorded_at else "recorded before results format 2"]
    return " · ".join(p for p in parts if p)


def record_html(r: Record, extra: str = "", title: str = "") -> str:
    """One result: a heading with kind, step, weights and time, then its values beside its protocol."""
    values = flatten(r.values) or [("(no values)", "")]
    proto = (table(("protocol field", "value"), r.protocol.items(), "kv") if r.protocol
             else "<p>no protocol recorded</p>")
    return (f"<h3>{esc(title or heading(r, extra))}</h3><div class=\"row\">"
            f"<div>{table(('metric', 'value'), values, 'kv')}</div><div>{proto}</div></div>")


def metrics_section(results: list[Record]) -> list[str]:
    if not results:
        return ["<p>No metrics yet: run <code>genlab eval RUN</code> (and <code>genlab probe RUN</code>); "
                "results land in metrics.json and appear here.</p>"]
    kinds = list(dict.fromkeys(r.kind for r in results))
    out = [f"<p>{len(results)} result{'s' * (len(results) != 1)} ({', '.join(map(esc, kinds))}), each with the "
           "protocol it was measured under and the training step of the weights it measured. Re-running a "
           "protocol at the same step replaces its record; any other evaluation is added.</p>"]
    for kind in kinds:
        group = sorted((r for r in results if r.kind == kind),
                       key=lambda r: (-1 if r.step is None else r.step, r.recorded_at or ""))
        tags = distinguishing(group)
        out += [record_html(r, tags[i]) for i, r in enumerate(group)]
    return out


def inpaint_table(results: list[Record]) -> list[str]:
    """The newest inpaint record's bins as a table (model vs biharmonic), with where its numbers come from."""
    recs = [r for r in results if r.kind == "inpaint" and isinstance(r.values.get("bins"), dict)]
    if not recs:
        return []
    r = max(recs, key=lambda r: (-1 if r.step is None else r.step, r.recorded_at or ""))
    cols = ("hole_l1", "hole_psnr", "hole_ssim", "comp_psnr")
    rows = [(label, v.get("n"), v.get("hole_ratio"), *(x for c in cols for x in (v.get(c), v.get(f"biharmonic_{c}"))))
            for label, v in r.values["bins"].items()]
    header = ("hole ratio", "n", "mean ratio", *(f"{c} {who}" for c in cols for who in ("model", "biharmonic")))
    return [f"<p>The newest <code>genlab eval</code> (step {r.step}); its numbers are the <em>inpaint</em> record "
            "above (conventions: docs/restoration.md, Inpainting).</p>", table(header, rows)]


def build_report(run_dir: str | Path) -> str:
    """The report page as one HTML string."""
    from ..viz.curves import throughput_png

    run = read_run(run_dir)
    body = [f"<h1>{esc(run.name)}</h1><div class=\"sub\">{esc(run.model)} on {esc(run.dataset)} · "
            f"{esc(run.path.resolve())}</div>", "<h2>Summary</h2>", table(("", ""), summary_rows(run), "kv")]
    body += ["<h2>Data fields</h2>", *data_section(run.path)]
    body.append("<h2>Training curves</h2>")
    curves = loss_curves_uri(run)
    if curves:
        body.append(figure(curves, "loss terms per logged interval (mean over the interval)"))
        body.append(figure(data_uri(throughput_png(run.rows), "image/png"), "samples per second"))
    else:
        body.append("<p>No metrics.jsonl yet.</p>")
    body.append("<h2>Samples over training</h2>")
    shown = spread(run.samples, 8)
    body.append('<div class="row">' + "".join(figure(file_uri(f), f"step {s}", width=260) for s, f in shown)
                + "</div>" if shown else "<p>No sample grids (set train.sample_every to get them).</p>")
    body += ["<h2>Metrics (metrics.json)</h2>", *metrics_section(run.results)]
    grids = sorted((run.path / "translations").glob("*.png")) if (run.path / "translations").is_dir() else []
    if grids:  # translation models: written by genlab eval
        body.append("<h2>Translations (held-out inputs)</h2>")
        body += [figure(file_uri(f), f"{f.stem}: input | output(s) | back-translation (two-way models) | target (paired splits)", alt=f.name,
                        cmd=f"genlab eval {run.path}") for f in grids]
    physics = _explore_files(run.path / "physics")
    if physics:  # field runs: written by genlab eval (genlab/metrics/physics.py)
        body.append("<h2>Physics (generated vs real fields)</h2>")
        body.append("<p>The newest <code>genlab eval</code> physics evaluation of this run; its numbers are the "
                    "<em>physics</em> records above (conventions: docs/science.md, Physics metrics).</p>")
        body += [figure(file_uri(f), meta.get("caption", f.name), alt=f.name, cmd=meta.get("command", ""))
                 for f, meta in physics]
    crops = _explore_files(run.path / "superres")
    if crops:  # super-resolution runs: written by genlab eval (genlab/metrics/superres.py)
        body.append("<h2>Super-resolution (held-out images)</h2>")
        body.append("<p>Side-by-side crops of the newest <code>genlab eval</code>; its numbers are the "
                    "<em>superres</em> records above (conventions: docs/restoration.md).</p>")
        body += [figure(file_uri(f), meta.get("caption", f.name), alt=f.name, cmd=meta.get("command", ""))
                 for f, meta in crops]
    gapfill = _explore_files(run.path / "gapfill")
    if gapfill:  # COADS gap filling: written by genlab eval (genlab/metrics/gapfill.py)
        body.append("<h2>Gap filling (hidden real observations)</h2>")
        body.append("<p>Maps of the newest <code>genlab eval</code>; its numbers are the <em>gap-fill</em> records "
                    "above (conventions: docs/restoration.md, Climate gap filling).</p>")
        body += [figure(file_uri(f), meta.get("caption", f.name), alt=f.name, cmd=meta.get("command", ""))
                 for f, meta in gapfill]
    inpaint = _explore_files(run.path / "inpaint")
    if inpaint:  # inpainting runs: written by genlab eval (genlab/metrics/inpainting.py)
        body.append("<h2>Inpainting (by hole-ratio bin)</h2>")
        body += inpaint_table(run.results)
        body += [figure(file_uri(f), meta.get("caption", f.name), alt=f.name, cmd=meta.get("command", ""))
                 for f, meta in inpaint]
    body.append("<h2>Latent-space exploration</h2>")
    if run.explore:
        body += [figure(file_uri(f), meta.get("caption", f.name), alt=f.name, cmd=meta.get("command", ""))
                 for f, meta in run.explore]
    else:
        body.append(f"<p>Nothing explored yet: <code>genlab explore {esc(run.path)} interpolate</code> (or "
                    "arithmetic, traverse, neighbors, map) puts pictures here.</p>")
    body += ["<h2>Config (config.yaml)</h2>", f"<pre>{esc(run.config_text)}</pre>"]
    return page(f"genlab report: {run.name}", body)


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write RUN/report.html (or `out`) atomically; returns its path."""
    path = Path(out) if out else Path(run_dir) / "report.html"
    atomic_write_text(path, build_report(run_dir))
    return path
