"""One progress line for long work (training, evaluations): count, bar, elapsed time and ETA, fitted to
the terminal's width. Standard library only (no torch), so the CLI can use it anywhere.

On a terminal the line is redrawn in place at most 10 times a second; in a log file (not a terminal) a
line is written every `log_every` seconds and, for training, at the end. The library never creates one
itself: the CLI (or the user) passes a `Progress` to the functions that can report into it.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Any, Optional, TextIO


def fmt_time(seconds: float) -> str:
    """12.3 -> '0:12', 3725 -> '1:02:05'."""
    s = int(max(0.0, seconds) + 0.5)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def terminal_width(stream: Optional[TextIO] = None, default: int = 100) -> int:
    """Columns of the terminal `stream` writes to ($COLUMNS wins; `default` when it is not a terminal)."""
    if os.environ.get("COLUMNS", "").isdigit():
        return max(20, int(os.environ["COLUMNS"]))
    try:
        return max(20, os.get_terminal_size((stream or sys.stderr).fileno()).columns)
    except (OSError, ValueError, AttributeError):
        return shutil.get_terminal_size((default, 24)).columns


class Progress:
    """`done/total` of some unit, with elapsed time and ETA; `update(k, **values)` after each piece.

    desc: a short label ("train", "eval fid"); values: scalars shown after the ETA as `key=value`. On a
    narrow terminal the line drops the bar first, then the values, then the label.
    """

    def __init__(self, total: int, desc: str = "", *, stream: Optional[TextIO] = None, enabled: bool = True,
                 log_every: float = 10.0, final_line: bool = True, width: Optional[int] = None,
                 start: int = 0):
        self.total, self.desc, self.done = int(total), desc, int(start)
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every, self.final_line, self._width = log_every, final_line, width
        self.t0 = time.monotonic()
        self._start = self.done  # work done before this session (a resumed run): not in the rate
        self._last = 0.0
        self._drawn = False
        self._wrote_any = False
        self.values: dict[str, Any] = {}

    # --- counting -----------------------------------------------------------------------------
    def update(self, k: int = 1, **values: Any) -> None:
        self.set(self.done + k, **values)

    def set(self, done: int, **values: Any) -> None:
        self.done = int(done)
        if values:
            self.values = values
        if not self.enabled:
            return
        now = time.monotonic()
        final = self.done >= self.total
        interval = 0.1 if self.tty else self.log_every
        if final:
            if self.tty or self.final_line or self._wrote_any:
                self._write(self.line(now), final=True)
            return
        if now - self._last >= interval and (self.tty or now - self.t0 >= interval):
            self._write(self.line(now), final=False)

    def skip(self, k: int) -> None:
        """Work that needed no time (a cached reference): removed from the total, not counted in the rate."""
        self.total = max(self.done, self.total - k)

    # --- drawing ------------------------------------------------------------------------------
    @property
    def width(self) -> int:
        return self._width or (terminal_width(self.stream) if self.tty else 120)

    def line(self, now: Optional[float] = None) -> str:
        """The progress line as it would be drawn now, at most `width - 1` characters."""
        now = time.monotonic() if now is None else now
        elapsed = now - self.t0
        rate = (self.done - self._start) / elapsed if elapsed > 0 else 0.0
        left = self.total - self.done
        eta = fmt_time(left / rate) if rate > 0 and left > 0 else ("0:00" if left <= 0 else "?")
        pct = 100 * self.done / max(1, self.total)
        head = f"{self.desc} " if self.desc else ""
        count = f"{self.done}/{self.total} {pct:3.0f}%"
        timing = f"{fmt_time(elapsed)} elapsed, ETA {eta}"
        shown = " ".join(_kv(k, v) for k, v in self.values.items())
        room = self.width - 1
        frac = min(1.0, self.done / max(1, self.total))

        def with_bar(rest: str, tail: str) -> Optional[str]:
            bar_w = min(30, room - len(head) - len(rest) - len(tail) - 3)
            if bar_w < 8:
                return None
            filled = int(bar_w * frac)
            return f"{head}[{'#' * filled}{'-' * (bar_w - filled)}] {rest}{tail}"

        # the most that fits: the bar, then the values, then the label go first; the count and times stay
        for text in (with_bar(f"{count} {timing}", f" {shown}" if shown else ""),
                     f"{head}{count} {timing} {shown}" if shown else None,
                     with_bar(f"{count} {timing}", ""),
                     f"{head}{count} {timing}",
                     f"{count} {timing}",
                     f"{count} {fmt_time(elapsed)}<{eta}"):
            if text is not None and len(text) <= room:
                return text
        return f"{count} {fmt_time(elapsed)}<{eta}"[:room]

    def _write(self, text: str, *, final: bool) -> None:
        self._last = time.monotonic()
        self._wrote_any = True
        if self.tty:
            self.stream.write("\r" + text.ljust(self.width - 1) + ("\n" if final else ""))
            self._drawn = not final
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Remove a half-drawn line (before printing a message under it)."""
        if self.tty and self._drawn:
            self.stream.write("\r" + " " * (self.width - 1) + "\r")
            self.stream.flush()
            self._drawn = False

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _kv(k: str, v: Any) -> str:
    return f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"


def null() -> Progress:
    """A Progress that draws nothing (the default of library functions)."""
    return Progress(0, enabled=False)
