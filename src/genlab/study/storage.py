"""The Optuna side of a study: the storage, the study record and its queue of trials.

Engine: Optuna's RDB storage (SQLAlchemy): SQLite by default, PostgreSQL/MySQL through a URL. What we
take from Optuna — trial states, params, values, user attributes, heartbeats and the retry of stale
trials (`RetryHeartbeatStaleTrialCallback`) — and what we add:

- **The queue.** Every trial of the spec is enqueued (`enqueue_trial`, fixed params and the trial's name
  as user attribute `genlab:name`) once, by the worker that created the study; the others wait for the
  study attribute `genlab:queued`. Optuna's samplers are not used: the trial list is fixed by the spec.
- **Claims.** A worker claims a trial by moving it WAITING -> RUNNING in one storage transaction
  (`set_trial_state_values`, which refuses a trial that is no longer WAITING). PostgreSQL/MySQL make the
  check-and-set atomic with SELECT ... FOR UPDATE; SQLite ignores FOR UPDATE, so for SQLite we open every
  transaction with BEGIN IMMEDIATE (the SQLAlchemy recipe for pysqlite): writers are serialised and two
  workers can never both see the same trial WAITING and take it.
- **Heartbeats.** While a worker holds a trial, a thread records its heartbeat every `interval_s`; a trial
  whose last heartbeat is older than `grace_s` is failed by the next worker that looks
  (`fail_stale_trials`), and Optuna's retry callback enqueues a copy with the same params and name, so the
  same run directory is picked up again and resumes from its checkpoint.
"""
from __future__ import annotations

import contextlib
import time
import warnings
from typing import Iterator, Optional

from ..errors import GenlabError

NAME = "genlab:name"
QUEUED = "genlab:queued"
FINGERPRINT = "genlab:spec_sha256"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Optuna's experimental-feature warnings (heartbeats) and info logging, silenced."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def masked(url: str) -> str:
    """The URL with its password replaced by ***, for messages and files."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 — a URL SQLAlchemy cannot parse is shown as given, minus user info
        return url.split("@")[-1] if "@" in url else url


def open_storage(url: str, *, heartbeat_s: int, grace_s: int, max_retries: int):
    """An Optuna RDBStorage with heartbeats and retries of stale trials; any failure to open it is a
    one-line GenlabError naming the URL (password hidden) and the reason."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    sqlite = url.startswith("sqlite:")
    kwargs = {"connect_args": {"timeout": 120, "isolation_level": None}} if sqlite else {}
    try:
        with quiet():
            storage = RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=heartbeat_s, grace_period=grace_s,
                                 heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=max_retries))
    except Exception as e:  # noqa: BLE001 — bad URL, missing driver, unreachable server, unreadable file
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if len(reason) > 160:
            reason = reason[:157] + "..."
        raise GenlabError(f"cannot open the study storage {masked(url)} ({type(e).__name__}: {reason}); give a "
                          "SQLAlchemy URL that works, e.g. sqlite:///study.db or postgresql://USER@HOST/DB "
                          "(its driver installed)") from None
    if sqlite:
        _immediate_transactions(storage.engine)
    del optuna
    return storage


def _immediate_transactions(engine) -> None:
    """Every SQLite transaction starts with BEGIN IMMEDIATE: the read-check-write of a claim is atomic.
    The journal is a write-ahead log with synchronous=NORMAL (readers do not wait for writers; one fsync
    per checkpoint, not per commit): a process killed at any point loses nothing, a power cut may lose
    the last commits (a claim or a result, which the next worker redoes from the run directory)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, record):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    engine.dispose()  # connections made before the listener (table creation) get the pragmas too
    @event.listens_for(engine, "begin")
    def _begin(conn):  # pysqlite is in autocommit mode (isolation_level=None), so we open the transaction
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_or_load(storage, spec, plans) -> tuple[object, bool]:
    """The study named spec.name, created with its queue if it does not exist; refused if the storage
    holds a study of that name made from another spec. Returns (study, created)."""
    import optuna

    with quiet():
        try:
            study = optuna.create_study(study_name=spec.name, storage=storage, direction=spec.eval.direction)
            created = True
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=spec.name, storage=storage)
            created = False
    if created:
        study.set_user_attr(FINGERPRINT, spec.fingerprint())
        fill_queue(study, plans)
        return study, True
    found = _wait_for(study, FINGERPRINT, 30.0)
    if found != spec.fingerprint():
        raise GenlabError(f"the storage already holds a study {spec.name!r} made from another spec "
                          f"(sha256 {str(found)[:12]}, this spec {spec.fingerprint()[:12]}); rename the study "
                          "(name: in the spec) or use its own spec")
    if _wait_for(study, QUEUED, 30.0) is None:  # its creator died while enqueueing: finish the queue
        fill_queue(study, plans)
    return study, False


def _wait_for(study, key: str, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        value = study.user_attrs.get(key)
        if value is not None or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def fill_queue(study, plans) -> int:
    """Enqueue every plan whose name no trial of the study has yet; then mark the queue complete."""
    with quiet():
        present = {t.user_attrs.get(NAME) for t in study.get_trials(deepcopy=False)}
        added = 0
        for plan in plans:
            if plan.name not in present:
                study.enqueue_trial(plan.params, user_attrs={NAME: plan.name})
                added += 1
        study.set_user_attr(QUEUED, len(plans))
    return added


def retry_failed(study) -> list[str]:
    """Enqueue again every trial name whose trials all FAILED (none complete, running or waiting)."""
    import optuna
    from optuna.trial import TrialState

    by_name: dict[str, list] = {}
    for t in study.get_trials(deepcopy=False):
        by_name.setdefault(t.user_attrs.get(NAME), []).append(t)
    again = []
    with quiet():
        for name, trials in by_name.items():
            if name and all(t.state == TrialState.FAIL for t in trials):
                last = max(trials, key=lambda t: t.number)
                study.add_trial(optuna.trial.create_trial(
                    state=TrialState.WAITING, params=last.params, distributions=last.distributions,
                    user_attrs={NAME: name}, system_attrs={"fixed_params": last.system_attrs.get("fixed_params",
                                                                                             last.params)}))
                again.append(name)
    return again


def claim(study, storage, skip: set[str] = frozenset()) -> Optional[object]:
    """Take the oldest WAITING trial (not named in `skip`): WAITING -> RUNNING in one transaction, and its
    first heartbeat. Returns the FrozenTrial, or None when nothing is waiting."""
    import optuna
    from optuna.trial import TrialState

    for t in sorted(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)), key=lambda t: t.number):
        if t.user_attrs.get(NAME) in skip:
            continue
        try:
            # FrozenTrial._trial_id is the storage key (Study.ask pops its queue with it too)
            if storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                storage.record_heartbeat(t._trial_id)
                return storage.get_trial(t._trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def release(storage, trial_id: int) -> None:
    """Put a claimed trial back in the queue (RUNNING -> WAITING), for a worker that stops before the end."""
    from optuna.trial import TrialState

    storage.set_trial_state_values(trial_id, state=TrialState.WAITING)


def states(study) -> dict[str, str]:
    """Trial name -> complete, running, waiting or failed: its most advanced state over its attempts."""
    from optuna.trial import TrialState

    label = {TrialState.COMPLETE: "complete", TrialState.RUNNING: "running", TrialState.WAITING: "waiting"}
    rank = {"complete": 3, "running": 2, "waiting": 1, "failed": 0}
    out: dict[str, str] = {}
    for t in study.get_trials(deepcopy=False):
        name, state = t.user_attrs.get(NAME), label.get(t.state, "failed")
        if name and (name not in out or rank[state] > rank[out[name]]):
            out[name] = state
    return out


def counts(study) -> dict[str, int]:
    """How many trial names are complete, running, waiting, failed."""
    out = {"complete": 0, "running": 0, "waiting": 0, "failed": 0}
    for state in states(study).values():
        out[state] += 1
    return out
