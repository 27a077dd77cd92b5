"""Outputs of sequence runs: MIDI, WAV and piano-roll pictures of samples, and continuations of a prompt.

`genlab sample RUN --out piece.mid|piece.wav|piece.png [-n N] [--prompt FILE.mid --bars 4]`:
- rolls and event tokens are decoded to notes (music_io.py) and written as a one-track MIDI file at the
  dataset's tempo and General MIDI program; `.wav` renders those notes at 16 kHz (data/audio.py); `.png`
  draws the piano rolls. N > 1 writes NAME-00.EXT … NAME-(N−1).EXT.
- μ-law audio runs write `.wav` (decoded samples; `--seconds S` of them, default the data's example
  length) or `.png` (waveforms); series runs `.png` (lines).
- `--prompt FILE.mid`: the file's notes (optionally only its first `--prompt-bars` bars or `--prompt-notes`
  notes) are put in the run's representation (frames of the run's frame length, or event tokens without
  the final EOS) and the model continues them: rolls by `--bars` bars of the prompt's time signature;
  tokens until the model's context (or the data's length) is full, cut at `--bars` bars after the prompt.
  A prompt + continuation longer than the model's context is a one-line error.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..data.music_io import Vocabulary, from_roll, from_tokens, read_midi, to_roll, to_tokens, write_midi
from ..data.music_notes import Notes
from ..errors import GenlabError

MUSIC_OUT = (".mid", ".midi", ".wav", ".png")


def sequence_meta(run) -> dict:
    seq = run.meta.get("sequence") or {}
    if not seq.get("repr"):
        raise GenlabError(f"run {run.run_dir} has no sequence facts in data_info.json; it was not trained on a "
                          "sequence dataset")
    return seq


def vocabulary(seq: dict) -> Vocabulary:
    v = seq.get("vocab") or {}
    return Vocabulary(shifts=int(v.get("shifts", 16)), step=float(v.get("step", 0.25)))


def to_notes(x: torch.Tensor, seq: dict) -> Notes:
    """One sample in model space (roll (T, 88) or tokens (T,)) -> notes in quarter notes."""
    if seq["repr"] == "roll":
        return from_roll(x.cpu().numpy() > 0.5, float(seq.get("frame", 1.0)))
    return from_tokens(x.round().long().cpu().numpy(), vocabulary(seq))


def cut_notes(notes: Notes, until: float) -> Notes:
    """The notes starting before `until` (quarter notes), ended there at the latest."""
    keep = notes.start < until - 1e-9
    return Notes.of(notes.pitch[keep], notes.start[keep], np.minimum(notes.end[keep], until), notes.velocity[keep])


def read_prompt(path: str, seq: dict, *, bars: Optional[int],
                notes: Optional[int]) -> tuple[torch.Tensor, float, float]:
    """(prompt in the run's representation (1, P[, 88]), its length in quarter notes, bar length)."""
    if not Path(path).is_file():
        raise GenlabError(f"--prompt {path} does not exist; give a .mid file")
    got, bar = read_midi(path)
    got = got.in_range()
    if notes:
        got = got.take(np.arange(min(int(notes), len(got))))
    end = got.duration
    if bars:
        end = min(end, bars * bar)
        got = cut_notes(got, end)
    if not len(got):
        where = " in the bars asked for" if bars else ""
        raise GenlabError(f"--prompt {path} has no notes on the 88 piano keys{where}")
    if seq["repr"] == "roll":
        frame = float(seq.get("frame", 1.0))
        steps = max(1, int(math.ceil(end / frame - 1e-9)))
        x = torch.from_numpy(to_roll(got, frame, steps).astype(np.float32))
    else:
        tokens = to_tokens(got, vocabulary(seq))[:-1]  # without EOS: the model continues the piece
        x = torch.from_numpy(tokens.astype(np.int64))
    return x[None], end, bar


def generate(run, n: int, seed: int, device, *, prompt: Optional[str] = None, bars: Optional[int] = None,
             prompt_bars: Optional[int] = None, prompt_notes: Optional[int] = None,
             temperature: float = 1.0, seconds: Optional[float] = None) -> tuple[torch.Tensor, dict]:
    """n samples (model space) of a sequence run, with a prompt if given; info for the summary line.
    `seconds`: audio runs, the length to generate (default: the data's example length)."""
    model, seq = run.model, sequence_meta(run)
    g = torch.Generator(device).manual_seed(seed)
    info: dict = {"prompt_steps": 0, "until": None}
    if seconds is not None and seq["repr"] != "mulaw":
        raise GenlabError("--seconds is for audio runs (e.g. wavenet on chorale-audio); music runs take --bars")
    if prompt is None:
        steps = model.length
        if seconds is not None:
            steps = max(1, int(round(seconds * int(seq.get("sample_rate", 16000)))))
        if bars and seq["repr"] == "roll":
            steps = int(round(bars * float(seq.get("bar", 4.0)) / float(seq.get("frame", 1.0))))
        x = model.generate_steps(n, steps, generator=g, temperature=temperature)
        if bars and seq["repr"] == "tokens":
            info["until"] = bars * float(seq.get("bar", 4.0))
        return x, info
    if seq["repr"] not in ("roll", "tokens"):
        raise GenlabError("--prompt takes a MIDI file and needs a run on piano rolls or event tokens")
    x0, end, bar = read_prompt(prompt, seq, bars=prompt_bars, notes=prompt_notes)
    p = x0.shape[1]
    bars = 4 if bars is None else bars
    if seq["repr"] == "roll":
        steps = max(1, int(round(bars * bar / float(seq.get("frame", 1.0)))))
    else:
        limit = model.max_context or model.length
        if p >= limit:
            model.check_length(p + 1, p)
        steps = limit - p
        info["until"] = end + bars * bar
    x = model.generate_steps(n, steps, prompt=x0.to(device), generator=g, temperature=temperature)
    info.update(prompt_steps=p, prompt_quarters=end)
    return x, info


def out_paths(out: Path, n: int, force: bool) -> list[Path]:
    from ..cli.common import out_path

    if n == 1:
        return [out]
    return [out_path(str(out.with_name(f"{out.stem}-{i:02d}{out.suffix}")), force) for i in range(n)]


def write(run, x: torch.Tensor, out: Path, info: dict, *, force: bool) -> str:
    """Write the samples x (n, T[, D]) to `out` (.mid/.wav/.png); returns what was written, in words."""
    seq = sequence_meta(run)
    rep, suffix = seq["repr"], out.suffix.lower()
    if suffix == ".png":
        from ..models.base import Panel
        from ..viz.sequences import sequence_figure

        title = f"{run.config.model_name} samples" + (f" (prompt: first {info['prompt_steps']} steps)"
                                                       if info.get("prompt_steps") else "")
        sequence_figure([Panel("samples", x, "x")], [run.info.spec], out, title=title, rows=min(len(x), 8))
        return f"a picture of {min(len(x), 8)} sample(s)"
    if rep == "series" or (rep == "mulaw" and suffix != ".wav"):
        raise GenlabError(f"this run models {'a real series' if rep == 'series' else 'audio'}; write "
                          f"{'.png or .npy' if rep == 'series' else '.wav, .png or .npy'}")
    paths = out_paths(out, len(x), force)
    if rep == "mulaw":
        from ..data.audio import mu_law_decode, write_wav

        for xi, path in zip(x, paths):
            write_wav(path, mu_law_decode(xi.round().clamp(0, 255).long().cpu().numpy()), int(seq["sample_rate"]))
        return f"{len(x)} WAV file(s) of {x.shape[1] / int(seq['sample_rate']):.2f} s"
    counts = []
    for xi, path in zip(x, paths):
        notes = to_notes(xi, seq)
        if info.get("until") is not None:
            notes = cut_notes(notes, info["until"])
        counts.append(len(notes))
        tempo, program = float(seq.get("tempo", 100.0)), int(seq.get("program", 0))
        if suffix == ".wav":
            from ..data.audio import render, write_wav

            write_wav(path, render(notes, tempo=tempo, program=program))
        else:
            write_midi(notes, path, tempo=tempo, program=program, bar=float(seq.get("bar", 4.0)))
    kind = "WAV" if suffix == ".wav" else "MIDI"
    return f"{len(x)} {kind} file(s) ({', '.join(map(str, counts[:4]))}{'…' if len(counts) > 4 else ''} notes)"
