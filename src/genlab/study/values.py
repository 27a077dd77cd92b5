"""How spec values are written: as `--section.key=VALUE` text, as Optuna params, in directory names;
and how a random-search value is drawn."""
from __future__ import annotations

import math
import re
from typing import Any

from ..errors import GenlabError

SECTIONS = ("model", "train", "data")
_SAFE = re.compile(r"[^A-Za-z0-9._+-]")


def cli_value(v: Any) -> str:
    """A YAML value as `--section.key=VALUE` text (lists comma-separated, booleans lower case)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, (list, tuple)):
        return ",".join(cli_value(x) for x in v)
    if isinstance(v, dict):
        raise GenlabError(f"study spec: value {v!r} is a mapping; give a nested key instead "
                          "(train.group_lr.discriminator: 4e-4)")
    return repr(v) if isinstance(v, float) else str(v)


def optuna_value(v: Any) -> Any:
    """A value as Optuna stores a param: numbers, text, bools and None as they are; lists as CLI text."""
    return v if v is None or isinstance(v, (bool, int, float, str)) else cli_value(v)


def name_value(v: Any) -> str:
    """A value as it appears in a trial's directory name (floats to 4 significant digits)."""
    text = f"{v:.4g}" if isinstance(v, float) else cli_value(v)
    return _SAFE.sub("_", text)


def short_names(keys: list[str]) -> dict[str, str]:
    """model.loss -> loss, unless two keys end alike (then the full key)."""
    last = [k.split(".", 1)[1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def draw(p, rng) -> Any:
    """One random-search value of Param `p` from NumPy generator `rng` (floats rounded to 4 digits)."""
    if p.kind == "choice":
        return p.values[int(rng.integers(len(p.values)))]
    lo, hi = p.values
    if p.kind == "int":
        return int(rng.integers(int(lo), int(hi) + 1))
    x = math.exp(rng.uniform(math.log(lo), math.log(hi))) if p.kind == "log_uniform" else rng.uniform(lo, hi)
    return min(max(float(f"{x:.4g}"), lo), hi)  # rounding must not leave [low, high]


def nested(dotted: dict) -> dict:
    """{'train.lr': 1, 'train.group_lr.discriminator': 2} -> {'train': {'lr': 1, 'group_lr': {...}}}."""
    out: dict = {s: {} for s in SECTIONS}
    for key, v in dotted.items():
        section, _, rest = key.partition(".")
        name, _, sub = rest.partition(".")
        if sub:
            out[section].setdefault(name, {})[sub] = v
        else:
            out[section][name] = v
    return out
