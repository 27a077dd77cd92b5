"""`genlab study SPEC.yaml [--storage URL] [--workers N] [--out DIR]`: run a study's trials (any number of
workers, on any machines sharing the storage and the directory), and `genlab study report DIR`
(docs/study.md)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ..errors import GenlabError
from .common import add_out, say

ENV_STORAGE = "GENLAB_STUDY_STORAGE"


def add_parser(sub) -> None:
    p = sub.add_parser("study", help="run a grid/random search × seeds of trainings on an Optuna storage; "
                       "'genlab study report DIR' for its table and figures",
                       description="Run the trials of a study spec (docs/study.md): each trial is a run "
                       "directory STUDY/trials/NAME, trained by genlab train and scored by genlab eval; "
                       "workers share the study through its storage and resume killed trials.")
    p.add_argument("spec", metavar="SPEC.yaml", help="the study spec, or the word 'report' followed by DIR")
    p.add_argument("dir", nargs="?", metavar="DIR", help="(with report) the study directory")
    p.add_argument("--storage", metavar="URL", default=None,
                   help=f"Optuna storage, any SQLAlchemy URL (postgresql://USER@HOST/DB for several machines); "
                   f"default: ${ENV_STORAGE}, else the one the study was made with, else sqlite:///DIR/study.db")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="workers on this machine: this process and N-1 more (default 1); 0 = only create the "
                   "study and fill its queue")
    add_out(p, "study directory (default studies/NAME); on a filesystem every worker sees")
    p.add_argument("--retry-failed", action="store_true",
                   help="queue again the trials whose training failed (diverged); killed ones resume anyway")
    p.add_argument("--no-report", action="store_true", help="do not write the report when the study is done")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.spec == "report" and (args.dir or not Path("report").is_file()):
        if not args.dir:
            raise GenlabError("give the study directory: genlab study report DIR")
        return _report(Path(args.dir), args.storage or os.environ.get(ENV_STORAGE))
    if args.dir:
        raise GenlabError(f"unexpected argument {args.dir!r}; use 'genlab study SPEC.yaml' or "
                          "'genlab study report DIR'")
    if args.workers < 0:
        raise GenlabError(f"--workers {args.workers} is invalid; give 0 (set up only) or more")
    from ..study import layout, storage as st
    from ..study.runner import Worker
    from ..study.spec import SECTIONS, check_trials, load_spec
    from .train import _preset

    spec = load_spec(args.spec)
    plans = check_trials(spec, _preset)  # every trial's config resolves: no directory before that
    out = Path(args.out) if args.out else Path("studies") / spec.name
    if out.exists() and (not out.is_dir() or (not (out / layout.META).is_file()
                                              and any(p.name != layout.LOCK for p in out.iterdir()))):
        raise GenlabError(f"{str(out)!r} exists and is not a study directory; give a new or empty --out")
    fresh = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with layout.dir_lock(out):
            url, new = layout.storage_url(out, spec, args.storage or os.environ.get(ENV_STORAGE))
            storage = st.open_storage(url, heartbeat_s=spec.heartbeat_s, grace_s=spec.grace_s,
                                      max_retries=spec.max_retries)
            study, _ = st.create_or_load(storage, spec, plans)
            if new:
                layout.write_meta(out, spec, Path(args.spec).read_text(), url)
    except BaseException:
        if fresh and [p.name for p in out.iterdir()] in ([], [layout.LOCK]):  # leave no empty study behind
            (out / layout.LOCK).unlink(missing_ok=True)
            out.rmdir()
        raise
    if args.retry_failed:
        again = st.retry_failed(study)
        say(f"queued again: {', '.join(again) or 'no failed trials'}")
    c = st.counts(study)
    say(f"study {spec.name}: {len(plans)} trials in {out} ({_counts(c)}); storage {st.masked(url)}")
    if args.workers == 0:
        return 0
    children = [_spawn(args.spec, out, url) for _ in range(args.workers - 1)]
    preset = _preset(spec.config) if spec.config else {}
    worker = Worker(spec, plans, out, storage, study, {s: preset.get(s, {}) for s in SECTIONS}, _command, say)
    try:
        rc = worker.work()
    except BaseException:  # this worker stops (Ctrl-C, an error): so do the ones it started, checkpointing
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait()
        raise
    codes = [child.wait() for child in children]
    c = st.counts(study)
    say(f"study {spec.name}: {_counts(c)}; this worker ran {len(worker.ran)}")
    if not args.no_report and c["waiting"] == c["running"] == 0:
        _write_report(out, st.states(study))
    return rc or next((code for code in codes if code), 0)


def _counts(c: dict) -> str:
    return ", ".join(f"{v} {k}" for k, v in c.items())


def _spawn(spec: str, out: Path, url: str) -> subprocess.Popen:
    """Another worker process on this machine (the storage URL passed in the environment, not argv)."""
    env = {**os.environ, ENV_STORAGE: url}
    return subprocess.Popen([sys.executable, "-m", "genlab", "study", str(Path(spec).resolve()), "--out",
                             str(out.resolve()), "--workers", "1", "--no-report"], env=env)


def _command(argv: list[str]) -> int:
    """Run `genlab ARGV` in this process (the same parser and code as the command line); user errors
    propagate as GenlabError."""
    from .main import build_parser

    args, extra = build_parser(argv[0]).parse_known_args(argv)
    args.overrides = extra
    return int(args.func(args) or 0)


def _write_report(out: Path, states: dict | None) -> None:
    from ..study import report

    page, md = report.write(out, states)
    say(md.rstrip())
    say(f"report: {page}")


def _report(out: Path, given: str | None) -> int:
    from ..study import layout

    meta = layout.read_meta(out)
    url = given or str(meta.get("storage", ""))
    states, why = None, ""
    local = url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file()
    if "***" in url or local:
        why = "its password is needed (--storage)" if "***" in url else f"{url} does not exist here"
    else:
        try:
            states = _states(url, meta["name"])
        except GenlabError as e:
            why = str(e)
    if why:
        say(f"trial states from the files only: {why}")
    _write_report(out, states)
    return 0


def _states(url: str, name: str) -> dict:
    import optuna

    from ..study import storage as st

    storage = st.open_storage(url, heartbeat_s=60, grace_s=120, max_retries=0)
    try:
        with st.quiet():
            return st.states(optuna.load_study(study_name=name, storage=storage))
    except KeyError:
        raise GenlabError(f"the storage {st.masked(url)} has no study {name!r}") from None
