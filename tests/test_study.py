"""`genlab study`: spec validation, the Optuna queue shared by processes, a worker killed mid-trial and
resumed by another from its checkpoint, finished trials never redone, and the report's numbers.

The training scenario runs once per module (two trials of the dcgan tiny config on digits): worker 1, a
subprocess started with the module, finishes the first trial and is SIGKILLed at its first checkpoint at
step >= 40 of the second; worker 2 (this process) finds that trial stale and resumes it."""
from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from genlab.cli.main import main
from genlab.errors import GenlabError
from genlab.study import report, stats
from genlab.study.spec import check_trials, cli_value, from_dict, load_spec
from genlab.training import checkpoint as ckpt

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "docs" / "study" / "tiny-digits.yaml"
STEPS, KILL_AT = 120, 40


def _spec(tmp: Path, name: str = "spec.yaml", **changes) -> Path:
    raw = yaml.safe_load(TINY.read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    p = tmp / name
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """An empty Optuna SQLite storage, made once: a new storage costs ~1-3 s (Optuna's alembic set-up),
    a copy of this file nothing."""
    import sqlite3

    from genlab.study import storage as st

    path = tmp_path_factory.mktemp("db") / "template.db"
    st.open_storage(f"sqlite:///{path}", heartbeat_s=1, grace_s=3, max_retries=0).engine.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


def _db(template: Path, where: Path) -> str:
    import shutil

    where.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, where)
    return f"sqlite:///{where}"


def _read_preset(name: str) -> dict:
    from genlab.cli.train import _preset

    return _preset(name)


# --- the spec -------------------------------------------------------------------------------------
def test_tiny_spec_expands_to_named_trials():
    spec = load_spec(TINY)
    plans = check_trials(spec, _read_preset)
    assert [p.name for p in plans] == ["loss=nonsaturating,seed=0", "loss=nonsaturating,seed=1",
                                       "loss=hinge,seed=0", "loss=hinge,seed=1"]
    assert plans[2].overrides["model.loss"] == "hinge" and plans[2].overrides["train.seed"] == 0
    assert plans[2].overrides["train.steps"] == 60 and plans[2].group == "loss=hinge"
    assert plans[3].params == {"model.loss": "hinge", "train.seed": 1}
    assert spec.train_argv(plans[0], Path("X"))[:6] == ["train", "dcgan", "--data", "digits", "--out", "X"]
    assert from_dict(spec.to_dict()).plans() == plans  # the normalised spec round-trips


def test_lucic_spec_is_the_papers_protocol():
    spec = load_spec(ROOT / "docs" / "study" / "lucic-fmnist.yaml")
    plans = check_trials(spec, _read_preset)
    assert len(plans) == 24 and len({p.group for p in plans}) == 8
    assert spec.eval.n == 10000 and spec.eval.split == "test" and spec.eval.extractor == "inception"
    from genlab.config import resolve

    cfg = resolve("dcgan", spec.layers(plans[0], _read_preset(spec.config)))
    assert (cfg.train.steps, cfg.train.batch_size, cfg.model.arch, cfg.data.name) == (18760, 64, "infogan",
                                                                                      "fashion-mnist")


def test_random_search_draws_are_fixed_by_the_seed(tmp_path):
    raw = {"model": "dcgan", "data": "digits", "seeds": [3, 4], "budget": {"trials": 5},
           "search": {"method": "random", "seed": 7,
                      "params": {"train.lr": {"log_uniform": [1e-5, 1e-2]}, "model.loss": ["hinge", "lsgan"],
                                 "model.latent_dim": {"int": [4, 9]}}}}
    a, b = from_dict(dict(raw, name="r")).plans(), from_dict(dict(raw, name="r")).plans()
    assert a == b and len(a) == 10
    assert a[0].name.startswith("p000,lr=") and a[0].name.endswith(",seed=3") and a[1].name.endswith(",seed=4")
    lrs = [p.overrides["train.lr"] for p in a]
    assert all(1e-5 <= v <= 1e-2 for v in lrs) and len(set(lrs)) == 5
    assert all(4 <= p.overrides["model.latent_dim"] <= 9 for p in a)
    assert a[0].group == "all"
    other = from_dict(dict(raw, name="r", search={**raw["search"], "seed": 8})).plans()
    assert [p.overrides["train.lr"] for p in other] != lrs


def test_fingerprint_ignores_layout_not_content(tmp_path):
    base = load_spec(TINY)
    text = TINY.read_text()
    (tmp_path / "tiny-digits.yaml").write_text("# a comment\n" + text.replace("  interval_s: 1", "  interval_s: 2"))
    assert load_spec(tmp_path / "tiny-digits.yaml").fingerprint() == base.fingerprint()
    (tmp_path / "tiny-digits.yaml").write_text(text.replace("train.steps: 60", "train.steps: 61"))
    assert load_spec(tmp_path / "tiny-digits.yaml").fingerprint() != base.fingerprint()


def test_cli_values():
    assert [cli_value(v) for v in (True, None, [0.5, 0.999], 2e-4, "hinge")] == ["true", "none", "0.5,0.999",
                                                                                  "0.0002", "hinge"]


BAD = [
    ({"seedz": 2}, "unknown key 'seedz' (did you mean seeds?)"),
    ({"model": "dcgann"}, "dcgann"),
    ({"data": "no-such-data"}, "no-such-data"),
    ({"search": {"params": {"model.loss": []}}}, "search.params.model.loss is an empty list"),
    ({"search": {"params": {}}}, "search.params is empty"),
    ({"search": {"params": {"model.loss": ["hinge", "no-such-loss"]}}}, "model.loss='no-such-loss' is invalid"),
    ({"search": {"params": {"model.no_such_key": [1, 2]}}}, "unknown key(s) model.no_such_key"),
    ({"search": {"params": {"loss": ["hinge"]}}}, "write model.KEY, train.KEY or data.KEY"),
    ({"base": {"train.seed": 3}}, "train.seed is set by seeds:"),
    ({"seeds": 0}, "seeds=0 is invalid"),
    ({"eval": {"metrics": ["fid", "bogus"]}}, "eval.metrics 'bogus' is invalid"),
    ({"eval": {"metrics": ["fid"], "objective": "recall"}}, "eval.objective='recall' is not measured"),
    ({"heartbeat": {"interval_s": 5, "grace_s": 5}}, "must exceed heartbeat.interval_s"),
    ({"budget": {"trials": 3}}, "budget.trials is for random search"),
    ({"search": {"method": "random", "params": {"train.lr": {"log_uniform": [0, 1]}}}, "budget": {"trials": 2}},
     "low > 0"),
    ({"search": {"method": "random", "params": {"train.lr": [1e-3]}}}, "needs budget.trials"),
]


@pytest.mark.parametrize("change,message", BAD, ids=[m[:28] for _, m in BAD])
def test_bad_spec_is_a_one_line_error(tmp_path, capsys, change, message):
    path = _spec(tmp_path, **change)
    rc = main(["study", str(path), "--out", str(tmp_path / "study"), "--workers", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "study").exists()  # nothing made for a bad spec


def test_good_spec_passes_validation(tmp_path, capsys):  # the other side of the table above
    rc = main(["study", str(_spec(tmp_path)), "--out", str(tmp_path / "study"), "--workers", "0"])
    assert rc == 0 and "4 trials" in capsys.readouterr().out
    assert (tmp_path / "study" / "study.json").is_file() and (tmp_path / "study" / "study.db").is_file()


@pytest.mark.parametrize("url", ["nosuchdialect://host/db", "sqlite:////no/such/dir/study.db"])
def test_storage_that_cannot_be_opened(tmp_path, capsys, url):
    rc = main(["study", str(_spec(tmp_path)), "--out", str(tmp_path / "study"), "--storage", url])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot open the study storage" in err and err.count("\n") == 1
    assert not (tmp_path / "study").exists()


def test_study_dir_of_another_spec_is_refused(tmp_path, capsys, template_db):
    out = tmp_path / "study"
    url = _db(template_db, tmp_path / "db" / "s.db")
    assert main(["study", str(_spec(tmp_path)), "--out", str(out), "--workers", "0", "--storage", url]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    other = _spec(tmp_path, "other.yaml", seeds=3)
    capsys.readouterr()
    assert main(["study", str(other), "--out", str(out), "--workers", "0"]) == 2
    assert "was made by another spec" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "notes.txt").write_text("mine")
    assert main(["study", str(other), "--out", str(tmp_path / "user"), "--workers", "0"]) == 2
    assert "is not a study directory" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "user").iterdir()) == ["notes.txt"]


# --- the queue: two processes claim from one SQLite file ------------------------------------------
CLAIMER = """
import json, sys, time
from pathlib import Path
from genlab.study import storage as st
import optuna
url, ready, me = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
s = st.open_storage(url, heartbeat_s=1, grace_s=60, max_retries=0)
with st.quiet():
    study = optuna.load_study(study_name="q", storage=s)
(ready / me).touch()
while len(list(ready.iterdir())) < 2:  # start claiming together
    time.sleep(0.001)
got = []
while (t := st.claim(study, s)) is not None:
    got.append(t.user_attrs[st.NAME])
    time.sleep(0.01)
print(json.dumps(got))
"""
N_QUEUE = 20


def _claim_race(tmp_path, template_db, url):
    import optuna

    from genlab.study import storage as st

    s = st.open_storage(url, heartbeat_s=1, grace_s=60, max_retries=0)
    with st.quiet():
        study = optuna.create_study(study_name="q", storage=s)
        for i in range(N_QUEUE):
            study.enqueue_trial({"x": i}, user_attrs={st.NAME: f"t{i}"})
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    ready = tmp_path / "ready"
    ready.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", CLAIMER, url, str(ready), "sub"], stdout=subprocess.PIPE,
                            text=True, env=env)
    (ready / "main").touch()  # this process is the other claimer
    while len(list(ready.iterdir())) < 2:
        assert proc.poll() is None
        time.sleep(0.001)
    a = []
    while (t := st.claim(study, s)) is not None:
        a.append(t.user_attrs[st.NAME])
        time.sleep(0.01)  # as the claimer does: room for the other side to interleave
    b = json.loads(proc.communicate(timeout=120)[0])
    assert not set(a) & set(b) and len(a) + len(b) == N_QUEUE
    assert set(a) | set(b) == {f"t{i}" for i in range(N_QUEUE)}
    assert st.counts(study) == {"complete": 0, "running": N_QUEUE, "waiting": 0, "failed": 0}
    return a, b


def test_two_processes_claim_disjoint_trials(tmp_path, template_db):
    """Without BEGIN IMMEDIATE, Optuna's own SQLite queue gave 1-3 of 40 trials to both of two processes
    (3 tries of this test's set-up); with it, none. Every try must be disjoint and complete; on a loaded
    machine one side can take the whole queue before the other wakes up, so the race is re-run (at most 3
    tries) until both processes claimed something at least once."""
    overlapped = False
    for i in range(3):
        d = tmp_path / f"try{i}"
        d.mkdir()
        a, b = _claim_race(d, template_db, _db(template_db, d / "q.db"))
        if a and b:
            overlapped = True
            break
    assert overlapped, "in 3 tries one process always claimed the whole queue: the race was never run"


def _worker(tmp_path, command, template):
    from genlab.study import storage as st
    from genlab.study.runner import Worker
    from genlab.study.spec import SECTIONS

    tmp_path.mkdir()
    spec = load_spec(_spec(tmp_path, seeds=1))
    plans = check_trials(spec, _read_preset)
    out = tmp_path / "study"
    out.mkdir()
    storage = st.open_storage(_db(template, out / "study.db"), heartbeat_s=1, grace_s=3, max_retries=0)
    study, created = st.create_or_load(storage, spec, plans)
    assert created
    return Worker(spec, plans, out, storage, study, {s: {} for s in SECTIONS}, command, log=lambda m: None), study


def test_diverged_trial_fails_and_setup_error_requeues(tmp_path, template_db):
    """The trial outcomes, with a stand-in for `genlab train`: divergence = FAIL (not retried, error kept);
    any other error = the trial back in the queue and the worker stopped with the message."""
    from genlab.study import storage as st

    def diverging(argv):
        assert argv[0] == "train"
        raise GenlabError("training diverged: a loss became NaN/inf by step 3; lower train.lr")

    worker, study = _worker(tmp_path / "a", diverging, template_db)
    assert worker.work() == 0 and worker.ran == []
    assert st.counts(study) == {"complete": 0, "running": 0, "waiting": 0, "failed": 2}
    assert all(t.user_attrs["genlab:error"].startswith("training diverged") for t in study.get_trials())
    assert sorted(st.retry_failed(study)) == sorted(p.name for p in worker.plans)
    assert st.counts(study)["waiting"] == 2

    def missing_data(argv):
        raise GenlabError("dataset digits not found; install it")

    worker, study = _worker(tmp_path / "b", missing_data, template_db)
    with pytest.raises(GenlabError, match="dataset digits not found"):
        worker.work()
    assert st.counts(study) == {"complete": 0, "running": 0, "waiting": 2, "failed": 0}


# --- a study run by two workers, one killed mid-trial ---------------------------------------------
_PAUSE_AT_CHECKPOINT = """
import os, signal, sys
from pathlib import Path
from genlab.training import checkpoint as ckpt
trial, kill_at = sys.argv[1], int(sys.argv[2])
save = ckpt.save_checkpoint
def save_then_pause(run_dir, step, *args, **kwargs):
    out = save(run_dir, step, *args, **kwargs)
    if Path(run_dir).name == trial and step >= kill_at:
        os.kill(os.getpid(), signal.SIGSTOP)
    return out
ckpt.save_checkpoint = save_then_pause
from genlab.cli.main import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture(scope="module", autouse=True)
def _worker1(request, tmp_path_factory, template_db):
    """Worker 1 starts with the module (its imports overlap the quick tests) when a test needs the killed
    study; a thread SIGKILLs it at its first checkpoint at or past KILL_AT (before the trial's end)."""
    if not any("killed_study" in getattr(item, "fixturenames", ()) for item in request.session.items):
        yield None
        return
    tmp = tmp_path_factory.mktemp("study")
    url = _db(template_db, tmp / "study.db")
    base = yaml.safe_load(TINY.read_text())["base"]
    spec = _spec(tmp, seeds=1, base={**base, "train.steps": STEPS}, report={"group_by": []})
    out = tmp / "study"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    log = open(tmp / "worker1.log", "w")
    plans = [p.name for p in load_spec(spec).plans()]
    # Worker 1 stops itself (SIGSTOP) right after writing the second trial's first checkpoint at or past
    # KILL_AT, so the kill below lands mid-trial however fast the machine (a fast CPU once finished all
    # STEPS between two polls of the watcher).
    w1 = subprocess.Popen([sys.executable, "-c", _PAUSE_AT_CHECKPOINT, plans[1], str(KILL_AT), "study", str(spec),
                           "--out", str(out), "--no-report", "--storage", url],
                          stdout=log, stderr=subprocess.STDOUT, env=env)
    ctx = {"spec": spec, "out": out, "url": url, "proc": w1, "w1": f"{socket.gethostname()}:{w1.pid}",
           "log": tmp / "worker1.log", "killed": {}}
    ctx["first"], ctx["second"] = plans

    def watch():  # worker 1 finishes the first trial, then is killed in the second
        _wait_for_lock(out / "locks" / f"{plans[1]}.lock", ctx["w1"], w1)
        run = out / "trials" / plans[1]
        while w1.poll() is None:
            latest = ckpt.latest_checkpoint(run) if run.is_dir() else None
            if latest is not None and ckpt.checkpoint_step(latest) >= KILL_AT:
                os.kill(w1.pid, signal.SIGKILL)
                w1.wait()
                ctx["killed"]["step"] = ckpt.checkpoint_step(ckpt.latest_checkpoint(run))
                return
            time.sleep(0.01)

    ctx["watcher"] = threading.Thread(target=watch, daemon=True)
    ctx["watcher"].start()
    yield ctx
    if w1.poll() is None:
        w1.kill()
        w1.wait()
    log.close()


@pytest.fixture(scope="module")
def killed_study(_worker1):
    """Worker 2 (this process) starts once worker 1 holds the second trial, so both are alive together; it
    finds nothing waiting, fails the trial once its heartbeat is 3 s old and resumes it. Worker 2 draws its
    loss-curve figures as 1-pixel stand-ins: three matplotlib figures per trial (~1 s CPU each) are not
    what these tests check, and worker 1 drew them for real in the first trial."""
    import optuna
    from PIL import Image

    ctx = _worker1
    _wait_for_lock(ctx["out"] / "locks" / f"{ctx['second']}.lock", ctx["w1"], ctx["proc"])

    def no_curves(metrics_jsonl, out, title=""):
        Image.new("L", (1, 1)).save(out)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("genlab.viz.plots.loss_curves", no_curves)
        rc = main(["study", str(ctx["spec"]), "--out", str(ctx["out"]), "--no-report"])
    ctx["watcher"].join(timeout=60)
    study = optuna.load_study(study_name="tiny-digits", storage=ctx["url"])
    return {**ctx, "rc": rc, "w2": f"{socket.gethostname()}:{os.getpid()}", "trials": study.get_trials(),
            "log": ctx["log"].read_text()}


def _wait_for_lock(lock: Path, ident: str, proc, timeout: float = 300) -> None:
    """Until `lock` names `ident` (the worker holds that trial; a killed worker's lock keeps its name)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.is_file() and lock.read_text() == ident:
            return
        if proc.poll() not in (None, -signal.SIGKILL):
            raise AssertionError(f"worker 1 ended (code {proc.returncode}) before taking {lock.stem}")
        time.sleep(0.01)
    raise AssertionError(f"worker 1 did not take {lock.stem} in time")


def test_two_workers_share_the_grid(killed_study):
    s = killed_study
    assert s["rc"] == 0
    complete = {t.user_attrs["genlab:name"]: t for t in s["trials"] if t.state.name == "COMPLETE"}
    assert len(complete) == sum(t.state.name == "COMPLETE" for t in s["trials"]) == 2  # each finished once
    assert set(complete) == {p.name for p in load_spec(s["spec"]).plans()}  # union = the grid
    assert complete[s["first"]].user_attrs["genlab:worker"] == s["w1"]  # worker 1 ran the first trial ...
    assert complete[s["second"]].user_attrs["genlab:worker"] == s["w2"]  # ... worker 2 finished the second
    failed = [t for t in s["trials"] if t.state.name == "FAIL"]
    assert [(t.user_attrs["genlab:name"], t.user_attrs["genlab:worker"]) for t in failed] == [(s["second"], s["w1"])]


def test_killed_trial_resumes_from_its_checkpoint(killed_study):
    s = killed_study
    k = s["killed"].get("step")
    assert k is not None and KILL_AT <= k < STEPS, s["log"][-2000:]
    failed = [t for t in s["trials"] if t.state.name == "FAIL"]
    retry = [t for t in s["trials"] if t.state.name == "COMPLETE" and t.user_attrs["genlab:name"] == s["second"]][0]
    assert retry.system_attrs["failed_trial"] == failed[0].number  # Optuna's retry of the stale trial
    assert retry.user_attrs["genlab:resumed_from"] == k  # continued from the checkpoint, not from step 0
    assert retry.user_attrs["genlab:step"] == STEPS
    run = s["out"] / "trials" / s["second"]
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(20, STEPS + 1, 20))  # every logged step once: nothing lost, nothing twice
    assert (run / "model.safetensors").is_file() and not (s["out"] / "abandoned").exists()


def test_finished_trials_are_never_redone(killed_study, capsys):
    s = killed_study
    files = [p for p in (s["out"] / "trials").rglob("*") if p.is_file()]
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in files}
    assert main(["study", str(s["spec"]), "--out", str(s["out"]), "--no-report"]) == 0
    assert "2 complete, 0 running, 0 waiting, 0 failed; this worker ran 0" in capsys.readouterr().out
    assert {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in files} == before
    import optuna

    study = optuna.load_study(study_name="tiny-digits", storage=s["url"])
    assert len(study.get_trials()) == len(s["trials"])


def test_report_numbers_are_the_recorded_metrics(killed_study, capsys):
    out = killed_study["out"]
    assert main(["study", "report", str(out)]) == 0
    assert "| all | 2 |" in capsys.readouterr().out
    for f in ("table.md", "table.csv", "summary.json", "distributions.png", "budget.png"):
        assert (out / "report" / f).stat().st_size > 100
    fids = []
    for run in sorted((out / "trials").iterdir()):
        recs = json.loads((run / "metrics.json").read_text())["records"]
        fids += [r["values"]["fid"] for r in recs if r["kind"] == "samples" and r["step"] == STEPS]
    assert len(fids) == 2
    row = list(csv.DictReader((out / "report" / "table.csv").open()))[0]
    assert (row["group"], int(row["n"])) == ("all", 2)
    assert float(row["mean"]) == pytest.approx(np.mean(fids), rel=1e-12)
    assert float(row["std"]) == pytest.approx(np.std(fids, ddof=1), rel=1e-12)
    assert float(row["best"]) == pytest.approx(min(fids), rel=1e-12)
    page = (out / "report.html").read_text()
    for run in (out / "trials").iterdir():
        assert f'href="trials/{run.name}/report.html"' in page and (run / "report.html").is_file()


# --- report pieces and the budget curve -----------------------------------------------------------
def test_groups_table():
    spec = from_dict({"name": "g", "model": "dcgan", "data": "digits", "seeds": 2,
                      "search": {"params": {"model.loss": ["hinge", "lsgan"]}}})
    rows = [{"name": p.name, "group": p.group, "value": v} for p, v in zip(spec.plans(), [3.0, 1.0, 7.0, None])]
    t = report.groups(spec, rows)
    assert [x["group"] for x in t] == ["loss=hinge", "loss=lsgan"]
    assert (t[0]["n"], t[0]["mean"], t[0]["best"], t[0]["best_trial"]) == (2, 2.0, 1.0, "loss=hinge,seed=1")
    assert t[0]["std"] == pytest.approx(np.sqrt(2.0)) and (t[1]["n"], t[1]["planned"], t[1]["std"]) == (1, 2, None)
    assert "| loss=lsgan | 1 of 2 | 7.00 ± — |" in report.table_markdown(spec, t)


@pytest.mark.parametrize("minimize", [True, False])
def test_expected_best_of_k_is_the_mean_over_all_subsets(minimize):
    v = [4.0, 2.5, 9.0, 2.5, 7.0, 1.0]
    pick = min if minimize else max
    brute = [np.mean([pick(c) for c in itertools.combinations(v, k)]) for k in range(1, len(v) + 1)]
    got = stats.expected_best(v, minimize)
    assert np.allclose(got, brute, rtol=0, atol=1e-12)
    assert got[0] == pytest.approx(np.mean(v)) and got[-1] == pick(v)
    lo, hi = stats.bootstrap_band(v, minimize, b=300)
    assert np.all(lo <= hi) and lo[0] < np.mean(v) < hi[0]


def test_spec_errors_are_genlab_errors():
    with pytest.raises(GenlabError, match="a random search needs budget.trials"):
        from_dict({"name": "x", "model": "dcgan", "data": "digits",
                   "search": {"method": "random", "params": {"train.lr": {"uniform": [0.1, 0.2]}}}})
