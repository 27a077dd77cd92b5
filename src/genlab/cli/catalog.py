"""What `genlab list` shows, without importing torch: the registries' names, families and help, cached.

Filling the registries imports every model (and so torch: over a second). The first `genlab list` after
an install or an edit does that and keeps the catalog in $XDG_CACHE_HOME/genlab/catalog-KEY.json (default
~/.cache); KEY hashes the size and modification time of every source and preset file of the package, so
any change to the code gives a new key and the catalog is never stale. Presets are read from
genlab/configs/ directly (their first comment line is their description).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
PRESET_DIR = PACKAGE / "configs"
KINDS = ("models", "datasets", "losses", "extractors", "optimizers")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "genlab"


def source_key() -> str:
    """A hash of (path, size, mtime) of every .py and .yaml file of the package, the version and Python's."""
    h = hashlib.sha256(f"{sys.version_info[:2]}".encode())
    for root, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            if f.endswith((".py", ".yaml")):
                st = os.stat(os.path.join(root, f))
                h.update(f"{os.path.relpath(os.path.join(root, f), PACKAGE)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:20]


def _from_registries() -> dict[str, list[dict]]:
    from .. import components  # noqa: F401  (fill the registries)
    from .. import registry

    regs = {"models": registry.MODELS, "datasets": registry.DATASETS, "losses": registry.LOSSES,
            "extractors": registry.EXTRACTORS, "optimizers": registry.OPTIMIZERS}
    return {kind: [{"name": e.name, "family": e.meta.get("family"), "help": str(e.meta.get("help", ""))}
                   for e in reg.entries()] for kind, reg in regs.items()}


def catalog() -> dict[str, list[dict]]:
    """kind -> [{name, family, help}], from the cache when it matches the installed code."""
    path = cache_dir() / f"catalog-{source_key()}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    data = _from_registries()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
        for old in path.parent.glob("catalog-*.json"):  # earlier versions of the code
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only cache: list still works, just slower next time
    return data


def presets() -> dict[str, dict]:
    """name -> {path, model, help} of the YAML presets shipped in genlab/configs/."""
    out = {}
    for p in sorted(PRESET_DIR.glob("*.yaml")):
        text = p.read_text()
        m = re.search(r"^model_name:\s*([\w.-]+)", text, re.M)
        lines = []
        for ln in text.splitlines():  # the leading comment block, as one line
            if not ln.startswith("#"):
                break
            lines.append(ln.lstrip("#").strip())
        out[p.stem] = {"path": str(p), "model": m.group(1) if m else "", "help": _short(" ".join(lines))}
    return out


def _short(text: str, limit: int = 110) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"
