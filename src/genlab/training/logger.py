"""Training log: metrics.jsonl, a live progress line, optional TensorBoard (scalars, sample grids,
hyperparameters).

The only place below the CLI that writes to the terminal. Only rank 0 logs.

TensorBoard event files go to RUN/tb. A resumed run opens its writer with `purge_step` = the first step
it will log, so steps logged after the last checkpoint by the interrupted process are superseded, never
shown twice (TensorBoard's own readers drop them); hyperparameters are written once, by the first session.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

from ..errors import GenlabError
from ..progress import Progress


class RunLogger:
    def __init__(self, run_dir: Optional[Path], *, total_steps: int, enabled: bool = True,
                 progress: bool = True, tensorboard: bool = False, stream=None, start_step: int = 0,
                 hparams: Optional[dict[str, Any]] = None):
        self.enabled = enabled
        self.total = total_steps
        self.progress = progress and enabled
        self.stream = stream or sys.stderr
        self.bar = Progress(total_steps, "train", stream=self.stream, enabled=self.progress, start=start_step)
        self.tty = self.bar.tty
        self.jsonl = None
        self.tb = None
        self._hparams = dict(hparams or {}) if start_step == 0 else {}
        self._images: set[tuple[str, int]] = set()  # (tag, step) already added (the last grid is drawn twice)
        if enabled and run_dir is not None:
            self.jsonl = open(run_dir / "metrics.jsonl", "a", buffering=1)
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                except ImportError:
                    raise GenlabError("train.tensorboard=true needs the tensorboard package; "
                                      "pip install 'genlab[tensorboard]'") from None
                self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=start_step + 1 if start_step else None)

    def log(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        record = {"step": step, **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in values.items()}}
        if self.jsonl:
            self.jsonl.write(json.dumps(record) + "\n")
        if self.tb:
            scalars = {k: v for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if self._hparams:
                self._write_hparams([k for k in scalars if k not in ("time_s", "samples_per_s")])
            for k, v in scalars.items():
                self.tb.add_scalar(k, v, step)
        if self.progress:
            self.bar.set(step, **{k: v for k, v in values.items() if isinstance(v, float) and k != "time_s"})

    def _write_hparams(self, metric_tags: list[str]) -> None:
        """The run's settings for TensorBoard's HParams tab; its metrics are the logged scalars."""
        from torch.utils.tensorboard.summary import hparams

        values = {k: v if isinstance(v, (bool, int, float, str)) or v is None else str(v)
                  for k, v in self._hparams.items()}
        for summary in hparams(values, {k: 0.0 for k in metric_tags}):
            self.tb.file_writer.add_summary(summary)
        self._hparams = {}

    def image(self, tag: str, png: Path, step: int) -> None:
        """A picture already written as a PNG (the sample grid), added to TensorBoard as it is."""
        if not self.tb or not Path(png).is_file() or (tag, step) in self._images:
            return
        self._images.add((tag, step))
        import numpy as np
        from PIL import Image

        with Image.open(png) as im:
            arr = np.asarray(im.convert("RGB"))  # (H, W, 3) uint8
        self.tb.add_image(tag, arr, step, dataformats="HWC")
        self.tb.flush()

    def message(self, text: str) -> None:
        if self.enabled:
            self.bar.clear()
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        self.bar.close()
        if self.jsonl:
            self.jsonl.close()
        if self.tb:
            self.tb.close()


def flat_hparams(**sections: Any) -> dict[str, Any]:
    """{'train': TrainConfig, 'model': ModelConfig} -> {'train/lr': 0.001, 'model/latent_dim': 16, ...}."""
    from dataclasses import fields, is_dataclass

    out: dict[str, Any] = {}
    for name, obj in sections.items():
        if obj is None:
            continue
        items = ((f.name, getattr(obj, f.name)) for f in fields(obj)) if is_dataclass(obj) else dict(obj).items()
        for k, v in items:
            out[f"{name}/{k}"] = v if isinstance(v, (bool, int, float, str)) or v is None else str(v)
    return out
