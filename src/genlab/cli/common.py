"""Helpers shared by subcommands: the options every command spells the same way (-n/--n, --out,
--device), output-path safety, device choice, user-facing messages.

Imports no torch at module level: `genlab --help` and `genlab list` must stay fast.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from ..errors import GenlabError

DEVICE_HELP = "auto (a CUDA GPU if there is one, else cpu), cpu, cuda or cuda:N (default auto)"


def add_n(p, default: int, what: str) -> None:
    """-n/--n N: how many (samples, images, points); the same spelling in every command."""
    p.add_argument("-n", "--n", dest="n", type=int, default=default, metavar="N",
                   help=f"{what} (default {default})" if default else what)


def add_out(p, what: str, *, required: bool = False, aliases: tuple[str, ...] = ()) -> None:
    """--out PATH: where the command writes (never over an existing file unless --force)."""
    p.add_argument("--out", *aliases, dest="out", required=required, metavar="PATH", help=what)


def add_device(p) -> None:
    """--device: where the model runs, the same choice and default everywhere (train: train.device)."""
    p.add_argument("--device", default="auto", metavar="DEVICE", help=DEVICE_HELP)


def add_force(p) -> None:
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def out_path(path: str, force: bool = False, suffixes: tuple[str, ...] = ()) -> Path:
    """An output file path that will not overwrite anything unless --force."""
    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise GenlabError(f"--out {path!r} must end in {' or '.join(suffixes)}")
    if p.exists() and not force:
        raise GenlabError(f"{path!r} already exists; choose another --out or add --force to replace it")
    if p.exists() and p.is_dir():
        raise GenlabError(f"{path!r} is a directory; give a file name")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def check_device_name(name: str) -> str:
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", name or ""):
        raise GenlabError(f"--device {name!r} is invalid; use {DEVICE_HELP.replace(' (default auto)', '')}")
    return name


def device(name: str):
    import torch

    check_device_name(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GenlabError(f"--device {name} but no CUDA GPU is available; use --device cpu")
    return torch.device(name)


def say(text: str) -> None:
    print(text, flush=True)


def warn(text: str) -> None:
    print(f"genlab: warning: {text}", file=sys.stderr, flush=True)


def positive_int(name: str, value: int) -> int:
    if value < 1:
        raise GenlabError(f"{name}={value} is invalid; give a positive integer")
    return value


def progress(total: int, desc: str):
    """The progress line of a long evaluation, on stderr (see genlab.progress)."""
    from ..progress import Progress

    return Progress(total, desc, final_line=False)
