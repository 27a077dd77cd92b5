"""Music datasets: Bach chorales, Essen folk songs and user MIDI folders, as piano rolls or event tokens.

    chorales     music21's 371 Bach chorales (music_corpus.py), split 60/20/20 by piece
    folk         music21's Essen folk songs (8,450 monophonic tunes), split 60/20/20 by tune
    midi-folder  every .mid/.midi under data.path (recursive), split 60/20/20 by relative path; `all` = every file

Options: `data.repr=roll|tokens`; `data.frame` (roll: quarter notes per frame, default 1 for chorales — the
JSB Chorales convention — and 0.25 for folk and MIDI; tokens: quarter notes per TIME_SHIFT step, default
0.25); `data.length` (steps per example, longer pieces are cut into chunks, sequences.py; default: roll 256
frames (chorales 128), tokens 1024); `data.transpose=K` (train split only: each training example is moved
by k semitones, k uniform in −K..K from the run's generator, clipped per example so every note stays on the
88 keys; tokens: NOTE_ON/NOTE_OFF shifted); `data.n` (the first n pieces of the split, by name: quick runs).
Representations and their conventions: music_io.py. The dataset's meta "sequence" keeps what turns model
outputs back into music (representation, frame or vocabulary, bar length, tempo, program).
"""
from __future__ import annotations

import hashlib
import statistics
import warnings
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor

from ..errors import GenlabError
from ..fields import FieldSpec
from ..registry import DATASETS
from . import music_corpus
from .base import Derivation
from .music_io import KEYS, LOWEST, OFF, ON, Vocabulary, read_midi, to_roll, to_tokens
from .music_notes import Notes
from .sequences import length_option, pad_examples, sequence_dataset

REPRS = ("roll", "tokens")
OPTIONS = ("repr", "frame", "length", "transpose", "n")
MIDI_EXT = (".mid", ".midi")


def _check(repr_: Optional[str], frame, transpose, n) -> tuple[str, int]:
    r = (repr_ or "roll").lower()
    if r not in REPRS:
        raise GenlabError(f"data.repr={repr_!r} is invalid; use roll (88-key piano roll) or tokens (event tokens)")
    if frame is not None and not float(frame) > 0:
        raise GenlabError(f"data.frame={frame!r} is invalid; give quarter notes per step, e.g. 1 or 0.25")
    k = int(transpose or 0)
    if not 0 <= k <= 12:
        raise GenlabError(f"data.transpose={transpose!r} is invalid; give semitones 0..12")
    if n is not None and int(n) < 1:
        raise GenlabError(f"data.n={n!r} is invalid; give a positive number of pieces")
    return r, k


def music_dataset(name: str, split: str, pieces: list[tuple[str, Notes, float]], *, repr_: str,
                  frame: float, length: int, transpose: int, meta: dict) -> object:
    """Pieces (name, notes, bar) -> a FieldDataset of rolls (N, T, 88) or tokens (N, T) + x_valid."""
    bars = [b for _, _, b in pieces] or [4.0]
    seq = {"repr": repr_, "bar": float(statistics.median(bars)), "tempo": meta.pop("tempo", 100.0),
           "program": meta.pop("program", 0), "lowest": LOWEST}
    if repr_ == "roll":
        x, valid = pad_examples([to_roll(n, frame) for _, n, _ in pieces], length, np.uint8)
        spec = FieldSpec((length, KEYS), "sequence", 2, valid="x_valid")
        seq["frame"] = frame
    else:
        vocab = Vocabulary(step=frame)
        x, valid = pad_examples([to_tokens(n, vocab) for _, n, _ in pieces], length, np.int16)
        spec = FieldSpec((length,), "tokens", vocab.size, valid="x_valid", channels=("events",))
        seq["vocab"] = vocab.to_dict()
        seq["frame"] = frame
    derived = (transposition(repr_, transpose, spec),) if transpose and split == "train" else ()
    meta = {**meta, "pieces": len(pieces), "sequence": seq, "split_rule": meta.get("split_rule")}
    return sequence_dataset(name, split, x, valid, spec, meta=meta, derived=derived)


# --- transposition augmentation (train split only) ---------------------------------------------------

def _shift_bounds(low: Tensor, high: Tensor, k: Tensor) -> Tensor:
    """k clipped per example to [−low, 87 − high] (low/high: the lowest/highest key index used)."""
    return torch.maximum(torch.minimum(k, (KEYS - 1) - high), -low)


def transpose_roll(x: Tensor, k: Tensor) -> Tensor:
    """x (B, T, 88) multi-hot, k (B,) semitones (already clipped) -> every key moved by k."""
    keys = torch.arange(KEYS, device=x.device)
    src = keys[None, :] - k[:, None]  # (B, 88): key j of the output is key j − k of the input
    ok = (src >= 0) & (src < KEYS)
    out = torch.gather(x, 2, src.clamp(0, KEYS - 1)[:, None, :].expand(-1, x.shape[1], -1))  # (B, T, 88)
    return out * ok[:, None, :].to(x.dtype)


def roll_range(x: Tensor) -> tuple[Tensor, Tensor]:
    used = x.amax(1) > 0  # (B, 88)
    keys = torch.arange(KEYS, device=x.device).expand_as(used)
    low = torch.where(used, keys, KEYS).amin(1)
    high = torch.where(used, keys, -1).amax(1)
    return low.clamp(max=KEYS - 1), high.clamp(min=0)


def transpose_tokens(x: Tensor, k: Tensor) -> Tensor:
    """x (B, T) event tokens, k (B,) semitones (already clipped) -> NOTE_ON/NOTE_OFF moved by k."""
    pitch_tok = (x >= ON) & (x < OFF + KEYS)
    return torch.where(pitch_tok, x + k[:, None], x)


def token_range(x: Tensor) -> tuple[Tensor, Tensor]:
    idx = torch.where((x >= ON) & (x < OFF), x - ON, torch.where((x >= OFF) & (x < OFF + KEYS), x - OFF, -1))
    low = torch.where(idx >= 0, idx, KEYS).amin(1)
    return low.clamp(max=KEYS - 1), idx.amax(1).clamp(min=0)


def transposition(repr_: str, max_shift: int, spec: FieldSpec) -> Derivation:
    """Derivation 'transpose': x moved by k ~ U{−K..K} semitones per example, clipped to the keyboard."""
    shift, bounds = (transpose_roll, roll_range) if repr_ == "roll" else (transpose_tokens, token_range)

    def fn(fields: dict[str, Tensor], generator) -> dict[str, Tensor]:
        x = fields["x"]
        k = torch.randint(-max_shift, max_shift + 1, (len(x),), generator=generator, device=x.device)
        low, high = bounds(x)
        return {"x": shift(x, _shift_bounds(low, high, k))}

    return Derivation("transpose", fn, {"x": spec})


# --- the datasets -----------------------------------------------------------------------------------

def _corpus_dataset(name: str, reader: Callable, split: str, repr_, frame, length, transpose, n, *,
                    default_frame: float, default_length: dict, meta: dict):
    r, k = _check(repr_, frame, transpose, n)
    f = float(frame) if frame is not None else (default_frame if r == "roll" else 0.25)
    pieces = reader(split if split != "all" else "all", int(n) if n else None)
    return music_dataset(name, split, pieces, repr_=r, frame=f, length=length_option(length, default_length[r]),
                         transpose=k, meta={**meta, "split_rule": music_corpus.split_rule()})


@DATASETS.register("chorales", splits=music_corpus.MUSIC_SPLITS, options=OPTIONS,
                   help="music21's 371 Bach chorales: 88-key piano roll at quarter-note frames (JSB convention) "
                        "or event tokens (data.repr=tokens); split 60/20/20 by piece; data.transpose=K")
def chorales(split: str, repr: Optional[str] = None, frame: Optional[float] = None,  # noqa: A002
             length: Optional[int] = None, transpose: Optional[int] = None, n: Optional[int] = None):
    return _corpus_dataset("chorales", music_corpus.chorales, split, repr, frame, length, transpose, n,
                           default_frame=1.0, default_length={"roll": 128, "tokens": 1024},
                           meta={"source": "music21 corpus: Bach chorales (Riemenschneider)", "tempo": 90.0,
                                 "program": 19})


@DATASETS.register("folk", splits=music_corpus.MUSIC_SPLITS, options=OPTIONS,
                   help="music21's Essen folk songs (8,450 monophonic tunes): piano roll at sixteenth-note frames "
                        "or event tokens; split 60/20/20 by tune")
def folk(split: str, repr: Optional[str] = None, frame: Optional[float] = None,  # noqa: A002
         length: Optional[int] = None, transpose: Optional[int] = None, n: Optional[int] = None):
    return _corpus_dataset("folk", music_corpus.folk, split, repr, frame, length, transpose, n,
                           default_frame=0.25, default_length={"roll": 256, "tokens": 512},
                           meta={"source": "music21 corpus: Essen folk songs (essenFolksong)", "tempo": 120.0,
                                 "program": 73})


def midi_files(path: Optional[str]) -> list[Path]:
    if not path:
        raise GenlabError("dataset 'midi-folder' needs data.path=FOLDER (a folder of .mid/.midi files)")
    root = Path(path)
    if not root.is_dir():
        raise GenlabError(f"data.path={path} is not a folder; give a folder of .mid/.midi files")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in MIDI_EXT and p.is_file())
    if not files:
        raise GenlabError(f"{path} has no .mid or .midi files (searched recursively); add MIDI files or "
                          "point data.path at the folder that holds them")
    return files


@DATASETS.register("midi-folder", splits=music_corpus.MUSIC_SPLITS, options=OPTIONS + ("path", "skip_bad"),
                   help="your MIDI files (data.path=FOLDER, recursive): piano roll or event tokens; split 60/20/20 "
                        "by file name; data.skip_bad=true skips unreadable files")
def midi_folder(split: str, path: Optional[str] = None, repr: Optional[str] = None,  # noqa: A002
                frame: Optional[float] = None, length: Optional[int] = None, transpose: Optional[int] = None,
                n: Optional[int] = None, skip_bad: Optional[bool] = None):
    r, k = _check(repr, frame, transpose, n)
    root = Path(path or "")
    files = midi_files(path)
    chosen = music_corpus.in_split([str(f.relative_to(root)) for f in files], split)
    if n:
        chosen = chosen[:int(n)]
    if not chosen:
        raise GenlabError(f"the {split} split of {path} is empty ({len(files)} MIDI files, split 60/20/20 by "
                          "file name); add files or use --data.split=all")
    pieces, bad = [], []
    for rel in chosen:
        try:
            notes, bar = read_midi(root / rel)
        except GenlabError:
            if not skip_bad:
                raise
            bad.append(rel)
            continue
        if len(notes.in_range()):
            pieces.append((rel, notes, bar))
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable MIDI file(s) of {path} (first: {bad[0]})", stacklevel=2)
    if not pieces:
        raise GenlabError(f"no MIDI file of the {split} split of {path} has notes on the 88 piano keys")
    f = float(frame) if frame is not None else 0.25
    digest = hashlib.sha256("\n".join(chosen).encode()).hexdigest()[:12]
    return music_dataset("midi-folder", split, pieces, repr_=r, frame=f,
                         length=length_option(length, 256 if r == "roll" else 1024), transpose=k,
                         meta={"source": str(root), "files_sha256_12": digest,
                               "split_rule": music_corpus.split_rule().replace("name", "relative path")})
