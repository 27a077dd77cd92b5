"""Training log: metrics.jsonl, a live progress line, optional TensorBoard scalars.

The only place below the CLI that writes to the terminal. Only rank 0 logs.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

from ..errors import GenlabError


class RunLogger:
    def __init__(self, run_dir: Optional[Path], *, total_steps: int, enabled: bool = True,
                 progress: bool = True, tensorboard: bool = False, stream=None):
        self.enabled = enabled
        self.total = total_steps
        self.progress = progress and enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.jsonl = None
        self.tb = None
        self._last_line = 0.0
        if enabled and run_dir is not None:
            self.jsonl = open(run_dir / "metrics.jsonl", "a", buffering=1)
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                except ImportError:
                    raise GenlabError("train.tensorboard=true needs the tensorboard package; "
                                      "pip install 'genlab[tensorboard]'") from None
                self.tb = SummaryWriter(str(run_dir / "tb"))

    def log(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        record = {"step": step, **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in values.items()}}
        if self.jsonl:
            self.jsonl.write(json.dumps(record) + "\n")
        if self.tb:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, step)
        if self.progress:
            self._bar(step, values)

    def _bar(self, step: int, values: dict) -> None:
        now = time.monotonic()
        final = step >= self.total
        if not self.tty and not final and now - self._last_line < 10:
            return  # in logs (no terminal), one line every 10 s is plenty
        self._last_line = now
        frac = step / max(1, self.total)
        bar = "#" * int(24 * frac) + "-" * (24 - int(24 * frac))
        shown = " ".join(f"{k}={v:.4g}" for k, v in values.items()
                         if isinstance(v, float) and k not in ("time_s",))
        line = f"[{bar}] {step}/{self.total} {shown}"
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(160) + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        if self.enabled:
            if self.tty:
                self.stream.write("\r" + " " * 160 + "\r")
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.jsonl:
            self.jsonl.close()
        if self.tb:
            self.tb.close()
