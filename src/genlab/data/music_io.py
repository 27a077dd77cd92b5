"""Piano rolls, event tokens and MIDI files from and to `Notes` (music_notes.py).

Time is measured in **quarter notes** everywhere (score time, not seconds); MIDI files are converted with
their own tempo map (`tick / resolution`), so a tempo change never moves a note off the beat grid.

Piano roll (Boulanger-Lewandowski et al. 2012): frame t covers [t·f, (t+1)·f) quarter notes (f = frame;
the JSB Chorales benchmark uses f = 1, a quarter note), and key k (MIDI 21 + k, 88 keys) is 1 iff a note of
that pitch **sounds at the frame's start**: start ≤ t·f < end. Notes that fall entirely between two frame
starts are not in the roll (the benchmark's convention). Back to notes: each run of 1s of a key is one
note; repeated notes of the same pitch merge (the roll cannot tell them apart).

Event tokens (the performance encoding of Oore et al. 2018 / Music Transformer, Huang et al. 2018, here on
score time): vocabulary

    0                         EOS (end of the piece)
    1 .. 88                   NOTE_ON  MIDI 21..108
    89 .. 176                 NOTE_OFF MIDI 21..108
    177 .. 177+S−1            TIME_SHIFT by 1..S steps of `step` quarter notes (default S = 16, step 1/4)
    177+S .. 177+S+31         VELOCITY bin v // 4 (32 bins) applying to the following NOTE_ONs

At each time: NOTE_OFFs (ascending pitch), then VELOCITY if it changed, then NOTE_ONs (ascending); a gap
longer than S steps is several TIME_SHIFTs; the last event is EOS. Times are rounded to the step grid
(notes rounded to zero length get one step).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import GenlabError
from .music_notes import DEFAULT_VELOCITY, KEYS, LOWEST, Notes, normalise  # noqa: F401

EOS, ON, OFF = 0, 1, 1 + KEYS
DEFAULT_SHIFTS, VELOCITY_BINS = 16, 32


# --- piano roll -------------------------------------------------------------------------------------

def to_roll(notes: Notes, frame: float = 1.0, length: Optional[int] = None) -> np.ndarray:
    """(T, 88) uint8 multi-hot roll: key k is on in frame t iff start ≤ t·frame < end (T = frames up to the
    last note end, or `length`)."""
    notes = notes.in_range()
    t_max = int(np.ceil(notes.duration / frame - 1e-9)) if len(notes) else 0
    t = t_max if length is None else length
    roll = np.zeros((t, KEYS), np.uint8)
    eps = 1e-6
    for p, s, e in zip(notes.pitch, notes.start, notes.end):
        first = int(np.ceil(s / frame - eps))  # first frame start at or after the onset
        last = int(np.ceil(e / frame - eps))  # frames whose start is before the end
        if last > first:
            roll[first:min(last, t), p - LOWEST] = 1
    return roll


def from_roll(roll: np.ndarray, frame: float = 1.0, velocity: int = DEFAULT_VELOCITY) -> Notes:
    """Runs of 1s per key -> notes (start = first frame · frame, end = frame after the run · frame)."""
    roll = np.asarray(roll) > 0
    padded = np.concatenate([np.zeros((1, roll.shape[1]), bool), roll, np.zeros((1, roll.shape[1]), bool)])
    diff = np.diff(padded.astype(np.int8), axis=0)  # +1 at onsets, −1 after the last frame, (T+1, 88)
    pitch, start, end = [], [], []
    for k in range(roll.shape[1]):
        ons, offs = np.nonzero(diff[:, k] == 1)[0], np.nonzero(diff[:, k] == -1)[0]
        for a, b in zip(ons, offs):
            pitch.append(LOWEST + k), start.append(a * frame), end.append(b * frame)
    return Notes.of(pitch, start, end, np.full(len(pitch), velocity, np.uint8))


# --- event tokens -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Vocabulary:
    """The event vocabulary (module docstring): `shifts` TIME_SHIFTs of `step` quarter notes."""

    shifts: int = DEFAULT_SHIFTS
    step: float = 0.25

    @property
    def shift0(self) -> int:
        return OFF + KEYS

    @property
    def velocity0(self) -> int:
        return self.shift0 + self.shifts

    @property
    def size(self) -> int:
        return self.velocity0 + VELOCITY_BINS

    def describe(self) -> str:
        return (f"{self.size} tokens: EOS, 88 NOTE_ON, 88 NOTE_OFF, {self.shifts} TIME_SHIFT of {self.step:g} "
                f"quarter notes, {VELOCITY_BINS} VELOCITY bins")

    def to_dict(self) -> dict:
        return {"shifts": self.shifts, "step": self.step, "size": self.size}


def to_tokens(notes: Notes, vocab: Vocabulary = Vocabulary()) -> np.ndarray:
    """Notes -> int16 event tokens ending in EOS (module docstring)."""
    notes = normalise(notes.in_range())
    q = vocab.step
    on_t = np.round(notes.start / q).astype(np.int64)
    off_t = np.maximum(np.round(notes.end / q).astype(np.int64), on_t + 1)
    events = sorted([(int(t), 0, int(p), 0) for t, p in zip(off_t, notes.pitch)]
                    + [(int(t), 1, int(p), int(v)) for t, p, v in zip(on_t, notes.pitch, notes.velocity)])
    out: list[int] = []
    now, velocity_bin = 0, -1
    for t, kind, p, v in events:
        gap = t - now
        while gap > 0:
            k = min(gap, vocab.shifts)
            out.append(vocab.shift0 + k - 1)
            gap -= k
        now = t
        if kind == 0:
            out.append(OFF + p - LOWEST)
            continue
        b = min(v // 4, VELOCITY_BINS - 1)
        if b != velocity_bin:
            out.append(vocab.velocity0 + b)
            velocity_bin = b
        out.append(ON + p - LOWEST)
    out.append(EOS)
    return np.asarray(out, np.int16)


def from_tokens(tokens: Sequence[int], vocab: Vocabulary = Vocabulary()) -> Notes:
    """Event tokens -> notes, up to the first EOS. A NOTE_ON of a sounding pitch re-strikes it, a NOTE_OFF
    of a silent pitch is ignored, notes still sounding at the end stop there (one step at least)."""
    q = vocab.step
    now, velocity = 0, DEFAULT_VELOCITY
    sounding: dict[int, tuple[int, int]] = {}
    pitch, start, end, vel = [], [], [], []

    def close(p: int, at: int) -> None:
        s, v = sounding.pop(p)
        pitch.append(p), start.append(s * q), end.append(max(at, s + 1) * q), vel.append(v)

    for tok in (int(t) for t in tokens):
        if tok == EOS:
            break
        if ON <= tok < OFF:
            p = LOWEST + tok - ON
            if p in sounding:
                close(p, now)
            sounding[p] = (now, velocity)
        elif OFF <= tok < vocab.shift0:
            p = LOWEST + tok - OFF
            if p in sounding:
                close(p, now)
        elif vocab.shift0 <= tok < vocab.velocity0:
            now += tok - vocab.shift0 + 1
        elif vocab.velocity0 <= tok < vocab.size:
            velocity = min(127, (tok - vocab.velocity0) * 4 + 2)
    for p in list(sounding):
        close(p, now)
    return Notes.of(pitch, start, end, vel)


# --- MIDI -------------------------------------------------------------------------------------------

def read_midi(path: str | Path) -> tuple[Notes, float]:
    """(notes in quarter notes, bar length in quarter notes) of a MIDI file; drum tracks are left out.
    A file pretty_midi cannot read is a one-line GenlabError naming it."""
    import pretty_midi

    path = Path(path)
    try:
        pm = pretty_midi.PrettyMIDI(str(path))
    except Exception as e:  # noqa: BLE001 — mido/pretty_midi raise many types on damaged files
        raise GenlabError(f"{path} is not a readable MIDI file ({type(e).__name__}: {str(e)[:80]}); "
                          "remove or replace it") from None
    pitch, start, end, vel = [], [], [], []
    beat = lambda t: pm.time_to_tick(t) / pm.resolution  # noqa: E731  (seconds -> quarter notes)
    for inst in pm.instruments:
        if inst.is_drum:
            continue
        for n in inst.notes:
            pitch.append(n.pitch), start.append(beat(n.start)), end.append(beat(n.end)), vel.append(n.velocity)
    bar = 4.0
    if pm.time_signature_changes:
        ts = pm.time_signature_changes[0]
        bar = ts.numerator * 4.0 / ts.denominator
    return normalise(Notes.of(pitch, start, end, vel)), bar


def write_midi(notes: Notes, path: str | Path, *, tempo: float = 100.0, program: int = 0,
               bar: float = 4.0) -> Path:
    """Notes -> a one-track MIDI file at `tempo` quarter notes per minute (General MIDI `program`, 0 =
    piano), with a time signature of `bar` quarter notes (4 -> 4/4, 3 -> 3/4)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=float(tempo))
    num = int(round(bar)) if abs(bar - round(bar)) < 1e-9 else int(round(bar * 2))
    den = 4 if abs(bar - round(bar)) < 1e-9 else 8
    pm.time_signature_changes.append(pretty_midi.TimeSignature(max(num, 1), den, 0.0))
    inst = pretty_midi.Instrument(program=program)
    sec = 60.0 / float(tempo)
    for p, s, e, v in zip(notes.pitch, notes.start, notes.end, notes.velocity):
        inst.notes.append(pretty_midi.Note(velocity=int(v), pitch=int(p), start=float(s) * sec, end=float(e) * sec))
    pm.instruments.append(inst)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path


