"""Writing a cache file of arrays atomically (the music caches; sim/cache.py does the same for simulations):
a temporary file in the same folder, then os.replace, so a reader sees the old entry or the whole new one,
never half of one (an interrupted writer leaves nothing)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def write_npz(path: Path, payload: dict, prefix: str) -> None:
    """np.savez(payload) to `path`, atomically; the file is 0644 like any cache file (mkstemp makes 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{prefix}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
