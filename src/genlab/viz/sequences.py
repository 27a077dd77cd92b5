"""Pictures of sequences: piano rolls (keys × time), event tokens drawn as the piano roll they decode to,
μ-law audio as waveforms, real series as lines in their units; one row per example (at most `rows`)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from torch import Tensor

from ..fields import FieldSpec

SEQUENCE_KINDS = ("sequence", "tokens")


def is_sequence(spec: FieldSpec) -> bool:
    return spec.kind in SEQUENCE_KINDS


def roll_of_tokens(tokens: np.ndarray, spec: FieldSpec) -> np.ndarray:
    """Event tokens -> a (T, 88) roll at the token step (the vocabulary is read off the spec's levels)."""
    from ..data.music_io import VELOCITY_BINS, Vocabulary, from_tokens, to_roll

    vocab = Vocabulary(shifts=int(spec.levels) - 1 - 2 * 88 - VELOCITY_BINS, step=1.0)
    return to_roll(from_tokens(tokens.astype(np.int64), vocab), 1.0)


def _pictures(t: Tensor, spec: FieldSpec) -> list[tuple[str, np.ndarray]]:
    """Per example: ('roll', (T, 88)) | ('wave', (T,)) | ('line', (T, D) data units)."""
    a = t.detach().float().cpu()
    if spec.kind == "tokens" and spec.channels == ("mu-law",):
        from ..data.audio import mu_law_decode

        return [("wave", mu_law_decode(x.round().clamp(0, 255).numpy())) for x in a]
    if spec.kind == "tokens":
        return [("roll", roll_of_tokens(x.round().numpy(), spec)) for x in a]
    if spec.levels == 2:
        return [("roll", x.numpy()) for x in a]
    return [("line", spec.normalizer.to_data(x, channel_dim=-1).numpy()) for x in a]


def sequence_figure(panels: Sequence, specs: Sequence[FieldSpec], out: Path, *, title: str = "",
                    rows: int = 4, valid: Optional[Tensor] = None) -> Path:
    """Every panel's first `rows` examples, one axis each (panels side by side)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [(p.title, _pictures(p.tensor[:rows], s), s) for p, s in zip(panels, specs)]
    n = max(1, min(rows, *(len(c[1]) for c in cols)))
    fig, axes = plt.subplots(n, len(cols), figsize=(6.0 * len(cols), 1.9 * n + 0.4), squeeze=False)
    for j, (name, pics, spec) in enumerate(cols):
        for i in range(n):
            ax = axes[i, j]
            kind, pic = pics[i] if i < len(pics) else ("none", None)
            if kind == "roll":
                used = np.nonzero(pic.any(0))[0]
                lo, hi = (max(int(used.min()) - 2, 0), min(int(used.max()) + 3, pic.shape[1])) if used.size else (0, 88)
                ax.imshow(pic[:, lo:hi].T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
                          extent=(0, pic.shape[0], 21 + lo - 0.5, 21 + hi - 0.5), vmin=0, vmax=1)
                ax.set_ylabel("MIDI pitch", fontsize=7)
            elif kind == "wave":
                ax.plot(np.arange(len(pic)) / 16000.0, pic, lw=0.4)
                ax.set_ylim(-1, 1)
                ax.set_ylabel("amplitude", fontsize=7)
            elif kind == "line":
                for d in range(pic.shape[1]):
                    ax.plot(pic[:, d], lw=1.0)
                ax.set_ylabel(spec.units or "value", fontsize=7)
            ax.tick_params(labelsize=6)
            if i == 0:
                ax.set_title(name, fontsize=8)
        label = "time-shift step" if spec.kind == "tokens" and pics and pics[0][0] == "roll" else \
            {"roll": "frame", "wave": "seconds (16 kHz)", "line": "step"}.get(pics[0][0] if pics else "", "step")
        axes[-1, j].set_xlabel(label, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.35 / n + 0.05, top=1 - 0.35 / n - 0.03, hspace=0.35,
                        wspace=0.15)  # (tight_layout costs seconds)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
