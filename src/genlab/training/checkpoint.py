"""Run directories and crash-safe checkpoints (DESIGN §5).

Layout of a run directory:
    config.yaml                      fully resolved config, written before step 0
    metrics.jsonl                    one JSON object per logged step
    checkpoints/step-00000500/       model.safetensors, ema.safetensors (if EMA), training_state.pt
    checkpoints/latest.json          {"step": 500, "dir": "step-00000500"} — the commit point
    model.safetensors                the final weights (also ema.safetensors), written at the end
    samples/                         sample grids over training

A checkpoint is written into a hidden temporary directory, fsynced, renamed into place, and only then
made current by atomically replacing `latest.json`. A process killed at any moment leaves either the
previous checkpoint or the new one current, never a half-written one. (Improvement on DESIGN §5: the
weights and the optimiser state are one unit, so they are committed together.)
Weights are safetensors; the training state is loaded with `torch.load(weights_only=True)`.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Optional

import torch
from safetensors.torch import load_file, save_file

from ..errors import GenlabError

LATEST = "latest.json"
_STEP_DIR = re.compile(r"^step-(\d{8})$")


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def plain_tensors(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Contiguous CPU copies (safetensors refuses shared or strided storage)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in sd.items()}


def atomic_save_safetensors(sd: dict[str, torch.Tensor], path: Path, metadata: Optional[dict] = None) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    save_file(plain_tensors(sd), str(tmp), metadata=metadata)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def new_run_dir(path: Path) -> Path:
    """Create a fresh run directory; never reuse an existing non-empty one."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise GenlabError(f"run directory {str(path)!r} already exists; choose another --out, or continue "
                          f"it with 'genlab train --resume {path}'")
    path.mkdir(parents=True, exist_ok=True)
    return path


STUB_FILES = {"config.yaml", "data_info.json", "metrics.jsonl"}


def remove_stub(run_dir: Optional[Path]) -> None:
    """Remove a run directory that a failed start left with only the files written before step 0 (and an
    empty metrics.jsonl); anything else in it means it is not a stub, and it is kept."""
    if run_dir is None or not run_dir.is_dir():
        return
    entries = list(run_dir.iterdir())
    if any(p.name not in STUB_FILES or not p.is_file() for p in entries):
        return
    if (run_dir / "metrics.jsonl").is_file() and (run_dir / "metrics.jsonl").stat().st_size:
        return
    for p in entries:
        p.unlink()
    run_dir.rmdir()


def checkpoint_step(path: Path) -> int:
    """The step of a checkpoint directory `step-NNNNNNNN`."""
    return int(path.name.split("-")[1])


def trim_metrics(path: Path, step: int) -> int:
    """Drop records after `step` from metrics.jsonl (they belong to steps that a resumed run redoes);
    atomic. Returns how many records were dropped."""
    if not path.is_file():
        return 0
    keep, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            dropped += 1  # a line cut by a kill
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step"), int) and rec["step"] > step:
            dropped += 1
            continue
        keep.append(line)
    if dropped:
        atomic_write_text(path, "".join(line + "\n" for line in keep))
    return dropped


def next_run_dir(root: Path, stem: str) -> Path:
    """runs/<stem>-<n> with the smallest n not yet used."""
    root.mkdir(parents=True, exist_ok=True)
    n = 1
    while (root / f"{stem}-{n}").exists():
        n += 1
    return root / f"{stem}-{n}"


def _write_checkpoint_files(tmp: Path, model_sd, ema_sd, state) -> None:
    """Write and fsync a checkpoint's files into `tmp` (a hook point for crash tests)."""
    save_file(plain_tensors(model_sd), str(tmp / "model.safetensors"))
    if ema_sd:
        save_file(plain_tensors(ema_sd), str(tmp / "ema.safetensors"))
    torch.save(state, tmp / "training_state.pt")
    for f in tmp.iterdir():
        with open(f, "rb+") as fh:
            os.fsync(fh.fileno())
    fsync_dir(tmp)


def save_checkpoint(run_dir: Path, step: int, model_sd: dict, ema_sd: Optional[dict], state: dict,
                    keep: int = 2) -> Path:
    ck = run_dir / "checkpoints"
    ck.mkdir(exist_ok=True)
    name = f"step-{step:08d}"
    tmp = ck / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    _write_checkpoint_files(tmp, model_sd, ema_sd, state)
    final = ck / name
    if final.exists():  # re-saving the same step (e.g. interrupt right after a periodic save)
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(ck)
    atomic_write_text(ck / LATEST, json.dumps({"step": step, "dir": name}))
    _prune(ck, keep, current=name)
    return final


def _prune(ck: Path, keep: int, current: str) -> None:
    steps = sorted(p for p in ck.iterdir() if _STEP_DIR.match(p.name))
    for p in steps[:-keep]:
        if p.name != current:
            shutil.rmtree(p, ignore_errors=True)
    for p in ck.iterdir():
        if p.name.startswith(".tmp-"):
            shutil.rmtree(p, ignore_errors=True)


def latest_checkpoint(run_dir: Path) -> Optional[Path]:
    """The committed checkpoint; if the pointer is missing or unreadable, the newest complete one."""
    ck = run_dir / "checkpoints"
    if not ck.is_dir():
        return None
    try:
        info = json.loads((ck / LATEST).read_text())
        d = ck / info["dir"]
        if d.is_dir():
            return d
    except (OSError, ValueError, KeyError, TypeError):
        pass
    steps = sorted(p for p in ck.iterdir() if _STEP_DIR.match(p.name) and (p / "training_state.pt").is_file())
    return steps[-1] if steps else None


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises several types for truncated or foreign files
        raise GenlabError(f"cannot read weights {path} ({type(e).__name__}); the file is damaged or not "
                          "safetensors") from None


def load_training_state(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise GenlabError(f"cannot read training state {path} ({type(e).__name__}); the checkpoint is "
                          "damaged") from None
