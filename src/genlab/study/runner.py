"""One study worker: claim a waiting trial, train (or resume) its run directory, evaluate it, report the
value to Optuna; until no trial is waiting or running.

Resumption: a trial is a run directory, STUDY/trials/NAME, and a run directory resumes exactly from its
last checkpoint (`genlab train --resume`). A worker killed mid-trial stops sending heartbeats; once the
trial's last heartbeat is older than the grace period, the next worker that looks fails it and Optuna's
retry callback enqueues a copy with the same name, which any worker then claims and resumes from the
checkpoint (storage.py). A worker that is asked to stop (SIGINT/SIGTERM: the trainer saves a checkpoint)
or meets a setup error puts its trial straight back in the queue. A finished trial is COMPLETE in the
storage and is never claimed again; one whose training failed (diverged) is FAIL and stays so unless
`--retry-failed`. The flock on STUDY/locks/NAME.lock is a second guard: two live processes never train
one directory.

The worker runs `genlab train` and `genlab eval` in its own process through `command(argv) -> exit
code` (given by the CLI), so a trial is trained and scored by exactly the code of those commands.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..config import resolve
from ..errors import GenlabError
from ..training import checkpoint as ckpt
from . import layout, records, storage as st
from .spec import SECTIONS, StudySpec, TrialPlan, optuna_value

# the one error the trainer raises in the middle of training (training/trainer.py, Trainer._diverged): the
# trial itself failed and stays FAIL (genlab study --retry-failed queues it again); any other error is a
# problem of the set-up, and the trial goes back to the queue while the worker stops with the message
DIVERGED = "training diverged"
# train keys that may differ between a trial's directory and its plan (they do not change the maths)
RESUMABLE = {"steps", "progress", "log_every", "sample_every", "ckpt_every", "keep_checkpoints", "device",
             "threads", "tensorboard"}


class Heartbeat:
    """A thread recording the trial's heartbeat every `interval` seconds while the trial runs."""

    def __init__(self, storage, trial_id: int, interval: float):
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name="genlab-heartbeat")

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # noqa: BLE001 — a busy database is retried at the next beat
                pass

    def __enter__(self) -> "Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


@dataclass
class Worker:
    spec: StudySpec
    plans: list[TrialPlan]
    out: Path
    storage: object  # optuna RDBStorage
    study: object  # optuna Study
    preset: dict
    command: Callable[[list[str]], int]
    log: Callable[[str], None] = print
    ident: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    ran: list[str] = field(default_factory=list)  # trial names this worker finished

    def work(self) -> int:
        """Run trials until none is waiting or running. Returns 0, or the exit code that stopped it."""
        by_name = {p.name: p for p in self.plans}
        skip: set[str] = set()  # trials whose directory another live process holds (until the next poll)
        warned: set[str] = set()
        poll = max(1, min(5, self.spec.heartbeat_s))
        while True:
            with st.quiet():
                from optuna.storages import fail_stale_trials

                fail_stale_trials(self.study)  # dead workers' trials -> FAIL + a waiting retry
            frozen = st.claim(self.study, self.storage, skip)
            if frozen is None:
                c = st.counts(self.study)
                if c["running"] == 0 and c["waiting"] == 0:
                    return 0
                time.sleep(poll)  # others' trials may still become stale (and then ours to resume)
                skip.clear()
                continue
            name = frozen.user_attrs.get(st.NAME)
            plan = by_name.get(name)
            if plan is None:
                st.release(self.storage, frozen._trial_id)
                raise GenlabError(f"the storage's study {self.spec.name!r} has a trial {name!r} that this spec "
                                  "does not define; use the spec the study was made with")
            lock = layout.TrialLock(self.out, name, self.ident)
            if not lock.acquired:  # a live process still trains this directory: leave it, look again later
                st.release(self.storage, frozen._trial_id)
                if name not in warned:
                    warned.add(name)
                    self.log(f"[{self.ident}] trial {name}: its directory is locked by another live process; "
                             "waiting")
                skip.add(name)
                continue
            try:
                rc = self._run(frozen, plan)
            finally:
                lock.close()
            if rc:
                return rc

    # --- one trial ----------------------------------------------------------------------------
    def _run(self, frozen, plan: TrialPlan) -> int:
        import optuna

        trial = optuna.trial.Trial(self.study, frozen._trial_id)
        with st.quiet():
            self._register_params(trial)
        trial.set_user_attr("genlab:worker", self.ident)
        run_dir = layout.trial_dir(self.out, plan.name)
        with Heartbeat(self.storage, frozen._trial_id, self.spec.heartbeat_s):
            try:
                resumed_from, rc = self._train(plan, run_dir)
            except GenlabError as e:
                if not str(e).startswith(DIVERGED):  # a setup problem (data, config, files): fix it, rerun
                    st.release(self.storage, frozen._trial_id)
                    raise
                trial.set_user_attr("genlab:error", str(e))
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                self.log(f"[{self.ident}] trial {plan.name}: failed: {e}")
                return 0
            except BaseException:
                st.release(self.storage, frozen._trial_id)
                raise
            trial.set_user_attr("genlab:resumed_from", resumed_from)
            if rc:  # interrupted (the checkpoint is saved): back to the queue for any worker
                st.release(self.storage, frozen._trial_id)
                self.log(f"[{self.ident}] trial {plan.name}: stopped (exit code {rc}); it stays in the queue")
                return rc
            try:
                value, step = self._evaluate(run_dir)
            except BaseException:
                st.release(self.storage, frozen._trial_id)
                raise
        trial.set_user_attr("genlab:step", step)
        done = self.study.tell(trial, value, skip_if_finished=True)
        if done.state != optuna.trial.TrialState.COMPLETE:  # failed as stale meanwhile; its retry re-scores
            self.log(f"[{self.ident}] trial {plan.name}: was taken as stale while it ran (heartbeat.grace_s too "
                     "short?); its retry will record it again")
            return 0
        self.ran.append(plan.name)
        self.log(f"[{self.ident}] trial {plan.name}: {self.spec.eval.objective} {value:.4f} (step {step})")
        return 0

    def _register_params(self, trial) -> None:
        """The trial's fixed params, declared with their distributions (so Optuna's tools show them)."""
        for p in self.spec.params:
            if p.kind in ("grid", "choice"):
                trial.suggest_categorical(p.key, [optuna_value(v) for v in p.values])
            elif p.kind == "int":
                trial.suggest_int(p.key, int(p.values[0]), int(p.values[1]))
            else:
                trial.suggest_float(p.key, float(p.values[0]), float(p.values[1]), log=p.kind == "log_uniform")
        trial.suggest_categorical("train.seed", list(self.spec.seeds))

    def _train(self, plan: TrialPlan, run_dir: Path) -> tuple[int, int]:
        """Start or resume the trial's run. Returns (the step it resumed from, 0 if new; exit code)."""
        latest = ckpt.latest_checkpoint(run_dir) if run_dir.is_dir() else None
        if latest is None and run_dir.exists() and any(run_dir.iterdir()):
            kept = layout.abandon(self.out, run_dir)
            self.log(f"[{self.ident}] trial {plan.name}: killed before its first checkpoint; its files are "
                     f"kept in {kept}, starting again")
        if latest is None:
            self.log(f"[{self.ident}] trial {plan.name}: new run {run_dir}")
            run_dir.parent.mkdir(parents=True, exist_ok=True)
            return 0, self.command(self.spec.train_argv(plan, run_dir))
        self._check_config(plan, run_dir)
        at = ckpt.checkpoint_step(latest)
        self.log(f"[{self.ident}] trial {plan.name}: resuming {run_dir} from step {at}")
        return at, self.command(["train", "--resume", str(run_dir)])

    def _check_config(self, plan: TrialPlan, run_dir: Path) -> None:
        from ..runs import read_config

        want = resolve(self.spec.model, self.spec.layers(plan, self.preset)).to_dict()
        have = read_config(run_dir).to_dict()
        for s in SECTIONS:
            keys = set(want[s]) | set(have[s])
            bad = sorted(k for k in keys if want[s].get(k) != have[s].get(k) and not (s == "train" and k in RESUMABLE))
            if bad:
                raise GenlabError(f"trial directory {run_dir} holds a run with {s}.{bad[0]}={have[s].get(bad[0])!r}, "
                                  f"but the spec gives {want[s].get(bad[0])!r}; move that directory aside")

    def _evaluate(self, run_dir: Path) -> tuple[float, int]:
        rc = self.command(records.eval_argv(self.spec, run_dir))
        found = records.find(self.spec, run_dir) if rc == 0 else None
        if found is None:
            raise GenlabError(f"genlab eval of {run_dir} recorded no {self.spec.eval.objective} for the study's "
                              f"protocol (exit code {rc}); run the command it printed to see why")
        return float(found.values[self.spec.eval.objective]), int(found.step)

