"""Helpers shared by subcommands: output-path safety, device choice, user-facing messages."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from ..errors import GenlabError


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


def device(name: str) -> torch.device:
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
