"""Audio: MIDI-like notes rendered to 16 kHz with a SoundFont, μ-law 8-bit coding, WAV files, `chorale-audio`.

Rendering: tinysoundfont (PyPI, a wrapper of TinySoundFont) with the General MIDI SoundFont TimGM6mb.sf2
that ships inside PyPI `pretty_midi` (nothing is downloaded); one instrument (General MIDI `program`),
notes at `tempo` quarter notes per minute, mono (the mean of the two channels), scaled so that the peak is
0.9 (per piece) and clipped to [−1, 1].

μ-law (ITU-T G.711, as in WaveNet, van den Oord et al. 2016) with μ = 255, for x ∈ [−1, 1]:

    F(x) = sign(x) · ln(1 + μ|x|) / ln(1 + μ),      q = round((F(x) + 1) / 2 · μ) ∈ {0, …, 255},
    F⁻¹:  y = 2q/μ − 1,  x = sign(y) · ((1 + μ)^|y| − 1) / μ.

`chorale-audio`: the first `data.n` chorales (default 12) of each split of `chorales` (the same piece
split), rendered on a church organ (program 19) at 90 quarter notes per minute, μ-law coded and cut into
chunks of `data.length` samples (default 4096 = 0.256 s; the last partial chunk of a piece is dropped).
Field x: (T,) kind "tokens", 256 levels, channels ("mu-law",). Cached in the music cache (music_corpus.py).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import wave
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import GenlabError
from ..fields import FieldSpec
from ..registry import DATASETS
from . import music_corpus
from .music_notes import Notes
from .sequences import length_option, sequence_dataset
from .npz_cache import write_npz

SAMPLE_RATE, MU = 16000, 255


def mu_law_encode(x: np.ndarray, mu: int = MU) -> np.ndarray:
    """x in [−1, 1] (float) -> codes 0..mu (uint8 for mu = 255)."""
    x = np.clip(np.asarray(x, np.float64), -1.0, 1.0)
    f = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.rint((f + 1.0) / 2.0 * mu).astype(np.uint8 if mu <= 255 else np.int32)


def mu_law_decode(q: np.ndarray, mu: int = MU) -> np.ndarray:
    """codes 0..mu -> x in [−1, 1] (float32)."""
    y = 2.0 * np.asarray(q, np.float64) / mu - 1.0
    return (np.sign(y) * ((1.0 + mu) ** np.abs(y) - 1.0) / mu).astype(np.float32)


def soundfont() -> Path:
    try:
        import pretty_midi
    except ImportError:
        raise GenlabError("rendering audio needs pretty_midi (its SoundFont); pip install pretty_midi") from None
    p = Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"
    if not p.is_file():
        raise GenlabError(f"{p} is missing; reinstall pretty_midi (pip install --force-reinstall pretty_midi)")
    return p


def render(notes: Notes, *, tempo: float = 90.0, program: int = 0, sample_rate: int = SAMPLE_RATE,
           tail: float = 0.5) -> np.ndarray:
    """Notes (quarter notes) -> mono float32 audio in [−1, 1] at `sample_rate` (peak 0.9), `tail` s after
    the last note."""
    try:
        import tinysoundfont
    except ImportError:
        raise GenlabError("rendering audio needs tinysoundfont: pip install tinysoundfont") from None
    synth = tinysoundfont.Synth(samplerate=sample_rate)
    sfid = synth.sfload(str(soundfont()))
    synth.program_select(0, sfid, 0, int(program))
    sec = 60.0 / float(tempo)
    events = sorted([(float(s) * sec, 1, int(p), int(v)) for p, s, v in zip(notes.pitch, notes.start, notes.velocity)]
                    + [(float(e) * sec, 0, int(p), 0) for p, e in zip(notes.pitch, notes.end)])
    total = int((notes.duration * sec + tail) * sample_rate) + 1
    out = np.zeros(total, np.float32)
    pos = 0
    for t, on, p, v in events:
        at = min(int(round(t * sample_rate)), total)
        if at > pos:
            out[pos:at] = _mono(synth.generate(at - pos))
            pos = at
        if on:
            synth.noteon(0, p, v)
        else:
            synth.noteoff(0, p)
    if pos < total:
        out[pos:] = _mono(synth.generate(total - pos))
    peak = float(np.abs(out).max())
    return np.clip(out * (0.9 / peak if peak > 0 else 1.0), -1.0, 1.0).astype(np.float32)


def _mono(buffer) -> np.ndarray:
    stereo = np.frombuffer(buffer, dtype=np.float32).reshape(-1, 2)  # interleaved L, R
    return stereo.mean(1)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Mono float audio in [−1, 1] -> a 16-bit PCM WAV file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(np.asarray(audio, np.float64), -1, 1) * 32767).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return path


def _cached_audio(split: str, n: int) -> tuple[list[str], list[np.ndarray]]:
    """(names, μ-law codes per piece) of the first n chorales of a split, rendered once and cached."""
    key_info = {"kind": "chorale-audio", "split": split, "n": n, "sr": SAMPLE_RATE,
                "code": hashlib.sha256("".join(inspect.getsource(f) for f in (render, _mono, mu_law_encode))
                                       .encode()).hexdigest()[:16],
                "notes": music_corpus.code_version("chorales")}
    key = hashlib.sha256(json.dumps(key_info, sort_keys=True).encode()).hexdigest()[:20]
    path = music_corpus.cache_dir() / f"chorale-audio-{split}-{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                if json.loads(str(z["__key__"])) == key_info:
                    off = z["offsets"]
                    codes = z["codes"]
                    return json.loads(str(z["names"])), [codes[off[i]:off[i + 1]] for i in range(len(off) - 1)]
        except (OSError, ValueError, KeyError):
            pass
    pieces = music_corpus.chorales(split, n)
    names = [name for name, _, _ in pieces]
    codes = [mu_law_encode(render(notes, tempo=90.0, program=19)) for _, notes, _ in pieces]
    payload = {"codes": np.concatenate(codes) if codes else np.zeros(0, np.uint8),
               "offsets": np.cumsum([0] + [len(c) for c in codes]).astype(np.int64),
               "names": np.array(json.dumps(names)), "__key__": np.array(json.dumps(key_info, sort_keys=True))}
    write_npz(path, payload, "chorale-audio")
    return names, codes


@DATASETS.register("chorale-audio", splits=music_corpus.MUSIC_SPLITS, options=("n", "length"),
                   help="Bach chorales rendered to 16 kHz organ audio (TimGM6mb SoundFont), mu-law 8-bit, chunks "
                        "of data.length samples (4096); data.n chorales per split (12); for wavenet")
def chorale_audio(split: str, n: Optional[int] = None, length: Optional[int] = None):
    n = int(n or 12)
    if n < 1:
        raise GenlabError(f"data.n={n} is invalid; give a positive number of chorales")
    length = length_option(length, 4096)
    names, codes = _cached_audio(split, n)
    parts = [c[i:i + length] for c in codes for i in range(0, len(c) - length + 1, length)]
    if not parts:
        raise GenlabError(f"chorale-audio:{split} has no chunk of {length} samples; use a smaller data.length")
    x = np.stack(parts)  # (N, T) uint8 codes
    valid = np.ones(x.shape, np.uint8)
    spec = FieldSpec((length,), "tokens", 256, valid="x_valid", channels=("mu-law",))
    meta = {"source": "music21 Bach chorales rendered with tinysoundfont + TimGM6mb.sf2 (pretty_midi)",
            "pieces": len(names), "split_rule": music_corpus.split_rule(),
            "sequence": {"repr": "mulaw", "sample_rate": SAMPLE_RATE, "mu": MU, "program": 19, "tempo": 90.0}}
    return sequence_dataset("chorale-audio", split, x, valid, spec, meta=meta)
