"""The results store: every evaluation of a run kept in RUN/metrics.json, each with its protocol.

    record_result(run_dir, kind, protocol, values, step=None)   add or replace one result
    load_results(run_dir) -> [Record]                           every result, oldest first (old files too)
    latest_result(run_dir, kind, **where) -> Record | None      the newest result of a kind (matching where)
    refresh_report(run_dir)                                     redraw RUN/report.html (best effort)

A result is a `Record`: its kind ("samples", "likelihood", "probe", "modes", "translation", ... — any
name), the protocol it was measured under (a flat JSON dict: extractor + weights hash, precision, split,
n, seed, EMA or live weights, metric set, direction, ...), its values (numbers, or dicts/lists of numbers)
and the training step of the weights it measured. Its identity is (kind, step, protocol without the
INCIDENTAL keys): recording a result with the identity of a stored one **replaces** that record and only
that one (re-running a protocol on the same weights recomputes the same numbers, so a history would only
repeat them); everything else is kept. Each record carries `recorded_at` (UTC) of its last computation.

File layout (format version 2; docs/evaluation.md):

    {"format": "genlab-results", "version": 2,
     "records": [{"kind": ..., "step": ..., "recorded_at": ..., "protocol": {...}, "values": {...}}, ...],
     "samples": {...values, "protocol": {...}, "step": ...}, ...}

The top-level entries named after a kind repeat the most recently recorded result of that kind, in the
layout of version 1 (`m["samples"]["fid"]`), for readers written before version 2; `records` is the
truth and the loader ignores the copies. Version-1 files (one entry per kind, `step`/`ema` at top level)
load as records and are rewritten as version 2 on the next write. Writes are atomic and made under an
exclusive lock on the run directory; a metrics.json that cannot be read is never overwritten.
"""
from __future__ import annotations

import json
import os
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Optional

from ..errors import GenlabError
from ..training.checkpoint import atomic_write_text

FILE = "metrics.json"
FORMAT = "genlab-results"
VERSION = 2
KINDS = {  # the kinds genlab writes itself; any other name (a new family's) is accepted as well
    "samples": "sample quality (FID, KID, precision/recall, density/coverage, IS) — genlab eval",
    "likelihood": "test ELBO / NLL bound, reconstruction error — genlab eval",
    "modes": "toy mixtures: modes covered, high-quality fraction — genlab eval",
    "probe": "few-label classifier on frozen encoder features vs pixels — genlab probe",
    "translation": "paired/unpaired translation (l1, psnr, ssim, fid per direction)",
    "physics": "fields: power spectrum, pixel histograms, Minkowski functionals, peaks, convection — genlab eval",
    "c2st": "classifier two-sample test (accuracy, p-value) of samples vs real data — genlab eval --metrics c2st",
    "superres": "super-resolution PSNR/SSIM (Y and RGB) on held-out full images, bicubic alongside — genlab eval",
    "sequence-nll": "sequences: exact NLL per frame / token / sample (nats and bits) on the test split — genlab eval",
    "inpaint": "inpainting by hole-ratio bin: hole L1/PSNR/SSIM, valid and composite PSNR/SSIM, biharmonic "
               "alongside — genlab eval",
    "denoise": "denoising PSNR/SSIM beside the noisy input and tuned Gaussian/median/TV filters — genlab eval",
    "gap-fill": "gap filling of real COADS observations hidden in blocks and scattered: area-weighted RMSE/MAE, "
                "mean-series r, kriging/linear/nearest alongside — genlab eval",
}
# Protocol keys that say how a number was computed, not what was measured: left out of a record's identity
# (a re-run that found the reference statistics cached is the same evaluation) and out of comparisons.
INCIDENTAL = frozenset({"reference_cached", "time_s", "elapsed_s"})
_RESERVED = {"format", "version", "records", "step", "ema"}
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
_FIX = "genlab left it untouched; move it aside (mv {p} {p}.bad) and re-run the evaluations to rebuild it"


@dataclass(frozen=True)
class Record:
    """One result: kind, protocol (what must match to compare it), values, training step, time recorded."""

    kind: str
    protocol: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    step: Optional[int] = None
    recorded_at: Optional[str] = None  # ISO-8601 UTC; None for results carried over from a version-1 file

    def identity(self) -> dict:
        """What makes two records the same evaluation: the step and the protocol minus INCIDENTAL keys."""
        return {"step": self.step, **{k: v for k, v in self.protocol.items() if k not in INCIDENTAL}}

    def key(self) -> str:
        return json.dumps([self.kind, self.identity()], sort_keys=True)

    def to_json(self) -> dict:
        return {"kind": self.kind, "step": self.step, "recorded_at": self.recorded_at,
                "protocol": self.protocol, "values": self.values}


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, torch tensors
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (Path, tuple, set, frozenset)):
        return str(obj) if isinstance(obj, Path) else list(obj)
    raise TypeError(f"{type(obj).__name__} {obj!r} cannot be stored in {FILE}; give numbers, strings, "
                    "lists or dicts")


def _clean(d: dict, what: str) -> dict:
    """A JSON round trip, so stored and freshly made records compare equal (tuples -> lists, numpy -> float)."""
    if not isinstance(d, dict):
        raise TypeError(f"{what} must be a dict, got {type(d).__name__}")
    return json.loads(json.dumps(d, default=_jsonable))


def path_of(run_dir: str | Path) -> Path:
    return Path(run_dir) / FILE


def _bad(path: Path, why: str) -> GenlabError:
    return GenlabError(f"{path} {why}; " + _FIX.format(p=path))


def _record_from(d: Any, path: Path, i: int) -> Record:
    if not isinstance(d, dict) or not isinstance(d.get("kind"), str):
        raise _bad(path, f"is not a genlab results file (records[{i}] has no 'kind')")
    proto, values, step = d.get("protocol") or {}, d.get("values") or {}, d.get("step")
    if not isinstance(proto, dict) or not isinstance(values, dict) or not (step is None or isinstance(step, int)):
        raise _bad(path, f"is not a genlab results file (records[{i}] has a bad protocol, values or step)")
    at = d.get("recorded_at")
    return Record(d["kind"], proto, values, step, at if isinstance(at, str) else None)


def _from_version1(data: dict) -> list[Record]:
    """{kind: {...values, "protocol": {...}}, "step": N, "ema": bool} (genlab eval/probe before version 2).
    eval wrote `step`/`ema` at the top level for its kinds; probe wrote neither. Stray scalars are kept
    as one record of kind "other"."""
    step = data.get("step") if isinstance(data.get("step"), int) else None
    out, other = [], {}
    for k, v in data.items():
        if k in ("step", "ema"):
            continue
        if not isinstance(v, dict):
            other[k] = v
            continue
        proto = dict(v.get("protocol") or {}) if isinstance(v.get("protocol"), dict) else {}
        values = {kk: vv for kk, vv in v.items() if kk != "protocol"}
        if k.startswith("probe"):  # probe, probe_knn: one kind, told apart by the protocol's classifier
            out.append(Record("probe", proto, values))
            continue
        if "ema" in data and "ema" not in proto:
            proto["ema"] = data["ema"]
        if k == "samples" and isinstance(proto.get("fake"), str):
            proto["fake"] = "samples of this run"  # was the run's path + step, which the record now holds
        out.append(Record(k, proto, values, step))
    if other:
        out.append(Record("other", {}, other))
    return out


def parse(data: Any, path: Path) -> list[Record]:
    """Records of a decoded metrics.json (version 1 or 2)."""
    if not isinstance(data, dict):
        raise _bad(path, f"is not a genlab results file (a JSON {type(data).__name__}, not an object)")
    if "records" not in data:
        return _from_version1(data)
    version = data.get("version")
    if isinstance(version, int) and version > VERSION:
        raise GenlabError(f"{path} was written by a newer genlab (results format {version}; this one reads "
                          f"up to {VERSION}); upgrade genlab to read it")
    if not isinstance(data["records"], list):
        raise _bad(path, "is not a genlab results file ('records' is not a list)")
    return [_record_from(d, path, i) for i, d in enumerate(data["records"])]


def load_results(run_dir: str | Path) -> list[Record]:
    """Every result of a run, in the order recorded (version-1 files too); [] without metrics.json.
    An unreadable file is a GenlabError naming it and the fix."""
    path = path_of(run_dir)
    if not path.is_file():
        return []
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise _bad(path, f"cannot be read ({e.__class__.__name__})") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        where = f" at line {e.lineno}" if isinstance(e, json.JSONDecodeError) else ""
        raise _bad(path, f"is not valid JSON{where}") from None
    return parse(data, path)


def latest_result(run_dir: str | Path, kind: str, **where: Any) -> Optional[Record]:
    """The most recently recorded result of `kind` whose protocol has every `where` key with that value
    (`step=` matches the record's step)."""
    for r in reversed(load_results(run_dir)):
        if r.kind == kind and all((r.step if k == "step" else r.protocol.get(k)) == v for k, v in where.items()):
            return r
    return None


def encode(records: list[Record]) -> str:
    """The file text: the records, then a version-1 style copy of the latest result of each kind."""
    data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "records": [r.to_json() for r in records]}
    for r in records:  # later records overwrite earlier ones: the copy is the latest of its kind
        data[r.kind] = {**r.values, "protocol": r.protocol, **({"step": r.step} if "step" not in r.values else {})}
    return json.dumps(data, indent=2, allow_nan=True)


@contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    """An exclusive flock on the run directory, so two commands recording at once both keep their result
    (no lock file is left behind). Where flock is unavailable it is a no-op."""
    try:
        import fcntl

        fd = os.open(run_dir, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
    finally:
        os.close(fd)  # releases the lock


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def record_result(run_dir: str | Path, kind: str, protocol: dict, values: dict, step: Optional[int] = None,
                  *, refresh: bool = True) -> Record:
    """Store one result in RUN/metrics.json: replaces the record with the same identity (kind, step,
    protocol minus INCIDENTAL), keeps every other one. Then redraws RUN/report.html unless refresh=False
    (a command recording several results refreshes once at the end). Returns the stored record.

    kind: any name (KINDS lists genlab's own); protocol: flat dict of what defines the measurement;
    values: numbers or nested dicts/lists of numbers; step: training step of the weights evaluated."""
    if not isinstance(kind, str) or not _KIND.match(kind) or kind in _RESERVED:
        raise ValueError(f"result kind {kind!r} is invalid: a name like 'samples' or 'translation', not one of "
                         f"{sorted(_RESERVED)}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise TypeError(f"step must be an int or None, got {step!r}")
    values = _clean(values, "values")
    if "protocol" in values:
        raise ValueError("values must not have a 'protocol' key; pass the protocol separately")
    rec = Record(kind, _clean(protocol, "protocol"), values, step, _now())
    run = Path(run_dir)
    if not run.is_dir():
        raise GenlabError(f"{str(run_dir)!r} is not a directory; give the run directory")
    with _locked(run):
        records = load_results(run)  # raises, leaving the file as it is, when it cannot be read
        records = [r for r in records if r.key() != rec.key()] + [rec]
        atomic_write_text(path_of(run), encode(records))
    if refresh:
        refresh_report(run)
    return rec


def refresh_report(run_dir: str | Path) -> Optional[Path]:
    """Redraw RUN/report.html from what the run holds now. Best effort: the results are already saved, so
    a failure is a warning (one line through the CLI) and None, never an error."""
    from .run_report import write_report

    try:
        return write_report(run_dir)
    except Exception as e:  # noqa: BLE001 — drawing must never cost a result
        warnings.warn(f"results are saved in {path_of(run_dir)}, but report.html could not be redrawn "
                      f"({e}); try 'genlab report {run_dir}'", stacklevel=2)
        return None

