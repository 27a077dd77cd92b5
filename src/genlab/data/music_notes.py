"""One piece of music as notes, and reading it from music21 scores (parsing-side code of the music cache).

`Notes`: arrays pitch (MIDI), start, end (quarter notes), velocity (1..127), sorted by (start, pitch).
`normalise` makes them well formed: same-pitch notes never overlap (a note re-struck while sounding ends
where the new one starts; two notes of one pitch starting together are one note, the longer one), notes of
zero length are dropped. This file and music_corpus.py are hashed into the music cache key.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOWEST, KEYS = 21, 88  # piano keys A0 (MIDI 21) .. C8 (MIDI 108)
DEFAULT_VELOCITY = 80


@dataclass
class Notes:
    """One piece: pitch (int16 MIDI), start, end (float64 quarter notes), velocity (uint8), sorted."""

    pitch: np.ndarray
    start: np.ndarray
    end: np.ndarray
    velocity: np.ndarray

    @classmethod
    def of(cls, pitch, start, end, velocity=None) -> "Notes":
        pitch = np.asarray(pitch, np.int16).reshape(-1)
        vel = np.full(len(pitch), DEFAULT_VELOCITY, np.uint8) if velocity is None else np.asarray(velocity, np.uint8)
        n = cls(pitch, np.asarray(start, np.float64).reshape(-1), np.asarray(end, np.float64).reshape(-1), vel)
        order = np.lexsort((n.pitch, n.start))
        return cls(n.pitch[order], n.start[order], n.end[order], n.velocity[order])

    @classmethod
    def empty(cls) -> "Notes":
        return cls.of([], [], [])

    def __len__(self) -> int:
        return len(self.pitch)

    @property
    def duration(self) -> float:
        """End of the last note (quarter notes)."""
        return float(self.end.max()) if len(self) else 0.0

    def take(self, keep: np.ndarray) -> "Notes":
        return Notes.of(self.pitch[keep], self.start[keep], self.end[keep], self.velocity[keep])

    def shifted(self, semitones: int) -> "Notes":
        return Notes.of(self.pitch + semitones, self.start, self.end, self.velocity)

    def in_range(self) -> "Notes":
        """The notes on the 88 piano keys (others dropped)."""
        return self.take((self.pitch >= LOWEST) & (self.pitch < LOWEST + KEYS))


def normalise(notes: Notes, min_len: float = 1e-6) -> Notes:
    """Same-pitch notes never overlap; zero-length notes are dropped (see the module docstring)."""
    keep_p, keep_s, keep_e, keep_v = [], [], [], []
    for p in np.unique(notes.pitch):
        idx = np.nonzero(notes.pitch == p)[0]
        idx = idx[np.lexsort((-notes.end[idx], notes.start[idx]))]  # by start, the longest first
        last_start = None
        for i in idx:
            s, e = notes.start[i], notes.end[i]
            if last_start is not None and abs(s - last_start) < 1e-9:
                continue  # the same pitch struck twice at once: one note (the longer, first in order)
            if keep_p and keep_p[-1] == p and keep_e[-1] > s:
                keep_e[-1] = s  # re-struck while sounding: the earlier note ends here
            keep_p.append(p), keep_s.append(s), keep_e.append(e), keep_v.append(notes.velocity[i])
            last_start = s
    n = Notes.of(keep_p, keep_s, keep_e, keep_v)
    return n.take(n.end - n.start > min_len)


def notes_from_music21(score) -> tuple[Notes, float]:
    """(notes, bar length) of a music21 score: ties merged, grace notes (zero length) left out."""
    flat = score.stripTies(inPlace=False).flatten()
    pitch, start, end, vel = [], [], [], []
    for el in flat.notes:
        ql = float(el.quarterLength)
        if ql <= 0:
            continue
        s = float(el.offset)
        v = el.volume.velocity if el.volume is not None and el.volume.velocity else DEFAULT_VELOCITY
        for p in el.pitches:
            pitch.append(int(p.midi)), start.append(s), end.append(s + ql), vel.append(int(v))
    bar = 4.0
    sigs = list(flat.getElementsByClass("TimeSignature"))
    if sigs:
        bar = float(sigs[0].barDuration.quarterLength)
    return normalise(Notes.of(pitch, start, end, vel)), bar
