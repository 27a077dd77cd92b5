"""The study directory: what is in it, who may use it, and the per-trial locks.

    STUDY/study.json          name, spec fingerprint, storage URL (password hidden), normalised spec
    STUDY/spec.yaml           the spec file as given
    STUDY/study.db            the SQLite storage (default; --storage puts the trials elsewhere)
    STUDY/trials/NAME/        one ordinary run directory per trial (genlab train / eval / report read it)
    STUDY/locks/NAME.lock     flock held by the worker running the trial (its host:pid inside)
    STUDY/abandoned/NAME.K/   a trial directory killed before its first checkpoint, kept, never deleted
    STUDY/report.html, STUDY/report/   `genlab study report`

A directory made by one spec is refused to any other (same fingerprint, spec.py), and a non-empty
directory that is not a study is never touched.
"""
from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

from ..errors import GenlabError
from ..training.checkpoint import atomic_write_text
from .spec import StudySpec
from .storage import masked

META = "study.json"
LOCK = ".study.lock"


@contextlib.contextmanager
def dir_lock(out: Path) -> Iterator[None]:
    """An exclusive flock on STUDY/.study.lock while a worker sets the study up (directory + queue)."""
    import fcntl

    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:  # a filesystem without locks: the storage's unique study name still protects
            if isinstance(e, BlockingIOError):
                raise
        yield
    finally:
        os.close(fd)


def read_meta(out: Path) -> dict:
    p = Path(out) / META
    if not p.is_file():
        raise GenlabError(f"{str(out)!r} is not a study directory (no {META}); give the --out of 'genlab study'")
    try:
        return json.loads(p.read_text())
    except ValueError:
        raise GenlabError(f"{p} is damaged (not JSON); restore it from a backup, or start the study in a new "
                          "directory") from None


def storage_url(out: Path, spec: StudySpec, storage: Optional[str]) -> tuple[str, bool]:
    """The storage URL of the study in `out` and whether `out` is new (call under dir_lock). A directory
    made by another spec, or whose trials are in another storage, is refused, never rewritten."""
    if (out / META).is_file():
        meta = read_meta(out)
        if meta.get("spec_sha256") != spec.fingerprint():
            raise GenlabError(f"study directory {out} was made by another spec (sha256 {str(meta.get('spec_sha256'))[:12]}"
                              f", this one {spec.fingerprint()[:12]}; its copy is {out / 'spec.yaml'}); give another "
                              "--out, or run the spec it was made with")
        recorded = str(meta.get("storage", ""))
        if storage is None:
            if "***" in recorded:
                raise GenlabError(f"study {out} keeps its trials in {recorded}; pass --storage URL (with its "
                                  "password) or set GENLAB_STUDY_STORAGE")
            return recorded, False
        if masked(storage) != recorded:
            raise GenlabError(f"study {out} keeps its trials in {recorded}, not {masked(storage)}; pass that "
                              "--storage, or give another --out")
        return storage, False
    if any(p.name != LOCK for p in out.iterdir()):
        raise GenlabError(f"{str(out)!r} exists and is not a study directory; give a new or empty --out")
    return storage or f"sqlite:///{(out / 'study.db').resolve()}", True


def write_meta(out: Path, spec: StudySpec, spec_text: str, url: str) -> None:
    """Make `out` this spec's study directory: the spec as given and study.json (once the storage works)."""
    atomic_write_text(out / "spec.yaml", spec_text)
    atomic_write_text(out / META, json.dumps({
        "name": spec.name, "spec_sha256": spec.fingerprint(), "storage": masked(url),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "spec": spec.to_dict()}, indent=2))


def trial_dir(out: Path, name: str) -> Path:
    return Path(out) / "trials" / name


def abandon(out: Path, run_dir: Path) -> Path:
    """Move a trial directory that has no checkpoint aside (STUDY/abandoned/NAME.K), keeping its files."""
    root = Path(out) / "abandoned"
    root.mkdir(exist_ok=True)
    k = 1
    while (root / f"{run_dir.name}.{k}").exists():
        k += 1
    os.replace(run_dir, root / f"{run_dir.name}.{k}")
    return root / f"{run_dir.name}.{k}"


class TrialLock:
    """A non-blocking exclusive flock on STUDY/locks/NAME.lock, holding `ident` (host:pid) while held.
    The kernel drops it when the process dies, even by SIGKILL. `acquired` is False when another live
    process on a machine sharing the file holds it."""

    def __init__(self, out: Path, name: str, ident: str):
        import fcntl

        path = Path(out) / "locks" / f"{name}.lock"
        path.parent.mkdir(exist_ok=True)
        self.fd: Optional[int] = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # held by another live process
            os.close(self.fd)
            self.fd = None
            return
        except OSError:  # no locks on this filesystem: the storage's claim is the only guard
            pass
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, ident.encode(), 0)

    @property
    def acquired(self) -> bool:
        return self.fd is not None

    def close(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None
