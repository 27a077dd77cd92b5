"""An on-disk cache of generated data sets: $XDG_CACHE_HOME/genlab/sim/ (default ~/.cache/genlab/sim).

Each entry is one .npz (plain numeric arrays, read with allow_pickle=False) holding the arrays and a JSON
string with the key information and the generator's meta. The key hashes the generator's name, all of its
parameters and the SHA-256 of the code (syntax trees, docstrings left out) of the source files that
produce the numbers, so any change of the solver gives a new key and an entry is never stale. Entries
are written to a temporary file and renamed (atomic); an unreadable or mismatching entry is regenerated.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

SIM = Path(__file__).resolve().parent


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "genlab" / "sim"


def code_version(*modules: str) -> str:
    """SHA-256 (16 hex digits) of the code of the named source files of genlab/sim/ (e.g. "rayleigh_benard.py"):
    of their syntax trees without docstrings (comments are not in the tree), so editing the prose keeps the
    cache and any change of the code makes a new key."""
    h = hashlib.sha256()
    for m in sorted(modules):
        tree = ast.parse((SIM / m).read_text())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
        h.update(m.encode() + b"\0" + ast.dump(tree).encode())
    return h.hexdigest()[:16]


def key_of(kind: str, params: dict, code: str) -> tuple[str, dict]:
    info = {"kind": kind, "params": params, "code": code}
    return hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:24], info


def cached(kind: str, params: dict, code: str, make: Callable[[], tuple[dict[str, np.ndarray], dict]]
           ) -> tuple[dict[str, np.ndarray], dict, bool]:
    """(arrays, meta, hit): the entry for (kind, params, code), made by `make()` -> (arrays, meta) if absent."""
    key, info = key_of(kind, params, code)
    path = cache_dir() / f"{kind}-{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                stored = json.loads(str(z["__info__"]))
                if stored.get("key") == info:
                    return {k: z[k] for k in z.files if k != "__info__"}, stored["meta"], True
        except (OSError, ValueError, KeyError):
            pass  # unreadable or foreign entry: regenerate below
    arrays, meta = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    payload["__info__"] = np.array(json.dumps({"key": info, "meta": meta}, sort_keys=True))
    fd, tmp = tempfile.mkstemp(prefix=f".{kind}-{key}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a cache entry is as readable as any cache file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return arrays, meta, False
