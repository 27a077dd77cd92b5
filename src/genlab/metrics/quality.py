"""Sample-quality evaluation with a recorded protocol: `genlab eval --real A --fake B` and `genlab eval RUN`.

Both paths: choose an extractor (default by image shape: fmnist-classifier for 1x28x28,
digits-classifier for 1x8x8, inception otherwise), check that real and fake images are compatible,
take seeded subsets of n, extract float64 features, and compute the requested metrics:

    fid -> fid;  kid -> kid_mean, kid_std;  pr -> precision, recall;  dc -> density, coverage;
    is  -> is_mean, is_std (classifier score for the domain classifiers; needs logits)

Real-set features are cached per (data content hash, extractor + weights hash, protocol) under
$XDG_CACHE_HOME/genlab/ref-stats (default ~/.cache/genlab/ref-stats) as safetensors + JSON; any change
of data, weights, n, seed or preprocessing gives a different key, so stale statistics are never reused.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from ..errors import GenlabError
from . import functional as F
from .features import Extractor, build, extract

METRICS = ("fid", "kid", "pr", "dc", "is")
DEFAULT_BY_SHAPE = {(1, 28, 28): "fmnist-classifier", (1, 8, 8): "digits-classifier"}
BATCH = 500
PROTOCOL_VERSION = 2  # 2: the extractor's arithmetic (fp32/bf16) is part of the key


def default_extractor(shape: tuple[int, ...]) -> str:
    return DEFAULT_BY_SHAPE.get(tuple(shape), "inception")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "genlab" / "ref-stats"


def precision_of(ext: Extractor) -> str:
    """'fp32', 'bf16', or 'bf16 (<variant>)' when the extractor's bf16 path keeps parts in fp32 — so
    reference statistics cached by another variant of the network are not reused."""
    if not ext.allow_bf16:
        return "fp32"
    return f"bf16 ({ext.bf16_variant})" if ext.bf16_variant else "bf16"


def set_precision(ext: Extractor, precision: Optional[str]) -> None:
    """'auto'/None keeps the extractor's default (its `allow_bf16`); 'fp32' or 'bf16' force one."""
    if precision in (None, "auto"):
        return
    if precision not in ("fp32", "bf16"):
        raise GenlabError(f"--precision {precision!r} is invalid; expected auto, fp32 or bf16")
    ext.allow_bf16 = precision == "bf16"


def _check_metrics(metrics: list[str], ext: Extractor) -> list[str]:
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise GenlabError(f"unknown metric(s) {', '.join(bad) or '(none)'}; choose from {','.join(METRICS)}")
    if "is" in metrics and not ext.has_logits:
        raise GenlabError(f"metric 'is' needs class logits, which extractor {ext.name!r} does not have; "
                          "use --extractor fmnist-classifier / digits-classifier or drop 'is'")
    return list(dict.fromkeys(metrics))


def _check_pair(real_shape: tuple, fake_shape: tuple) -> None:
    if tuple(real_shape) != tuple(fake_shape):
        r, f = "x".join(map(str, real_shape)), "x".join(map(str, fake_shape))
        raise GenlabError(f"real images are {r} but generated images are {f}; compare sets of the same "
                          "size and channels (resize/convert one of them first)")


def _batches(x: Tensor, scale: float):
    for i in range(0, len(x), BATCH):
        b = x[i:i + BATCH].float()
        yield b * scale if scale != 1.0 else b


def _content_hash(x: Tensor) -> str:
    return hashlib.sha256(x.contiguous().cpu().numpy().tobytes()).hexdigest()


def real_features(x: Tensor, scale: float, ext: Extractor, *, source: str, seed: int, progress=None
                  ) -> tuple[Tensor, Optional[Tensor], bool, dict[str, Tensor]]:
    """Features (and logits) of the real set and its FID statistics (mean, covariance, covariance
    square root), from the cache when the key matches; returns a `cached` flag too.
    x: stored tensor (uint8 or float), scale maps it to [0, 1]."""
    key_info = {"version": PROTOCOL_VERSION, "source": source, "data_sha256": _content_hash(x),
                "shape": list(x.shape), "scale": scale, "seed": seed, **ext.protocol(),
                "precision": precision_of(ext)}
    key = hashlib.sha256(json.dumps(key_info, sort_keys=True).encode()).hexdigest()[:32]
    d = cache_dir()
    st, js = d / f"{key}.safetensors", d / f"{key}.json"
    if st.is_file() and js.is_file():
        try:
            if json.loads(js.read_text()) == key_info:
                from safetensors.torch import load_file

                t = load_file(str(st))
                stats = {k: t[k] for k in ("mu", "sigma", "sigma_sqrt")}
                if progress is not None:
                    progress.skip(len(x))
                return t["features"], t.get("logits"), True, stats
        except (ValueError, OSError, KeyError):
            st.unlink(missing_ok=True)  # unreadable cache entry: drop it, recompute and rewrite below
    feats, logits = extract(ext, _batches(x, scale), progress=progress)
    stats = F.reference_stats(feats) if len(feats) > 1 else {}
    d.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file

    tensors = {"features": feats.contiguous(), **{k: v.contiguous() for k, v in stats.items()}}
    if logits is not None:
        tensors["logits"] = logits.contiguous()
    # unique temporary names, then os.replace: two processes (pytest workers, two evaluations) computing the
    # same entry never write into one file, and a reader sees a whole entry or none
    fd, tmp = tempfile.mkstemp(prefix=f".{key}-", suffix=".tmp", dir=d)
    os.close(fd)
    save_file(tensors, tmp)
    os.replace(tmp, st)
    fd, tmp = tempfile.mkstemp(prefix=f".{key}-", suffix=".json.tmp", dir=d)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(key_info, sort_keys=True, indent=1))
    os.replace(tmp, js)
    return feats, logits, False, stats


def compute(real: Tensor, fake: Tensor, fake_logits: Optional[Tensor], metrics: list[str], *,
            seed: int, real_stats: Optional[dict[str, Tensor]] = None) -> dict:
    """Metrics from feature matrices (real (N, D), fake (M, D)); see module docstring for the keys."""
    out: dict = {}
    if "fid" in metrics:
        out["fid"] = F.fid(real, fake, real_stats=real_stats)
    if "kid" in metrics:
        out["kid_mean"], out["kid_std"] = F.kid(real, fake, generator=torch.Generator().manual_seed(seed))
    if "pr" in metrics:
        out["precision"], out["recall"] = F.precision_recall(real, fake)
    if "dc" in metrics:
        out["density"], out["coverage"] = F.density_coverage(real, fake)
    if "is" in metrics:
        out["is_mean"], out["is_std"] = F.inception_score(fake_logits)
    return out


def _evaluate(real_x: Tensor, real_scale: float, fake: Tensor, *, real_name: str, fake_name: str,
              metrics: list[str], extractor: Optional[str], device: torch.device, seed: int,
              precision: Optional[str] = None, progress=None) -> dict:
    shape = tuple(real_x.shape[1:])
    _check_pair(shape, tuple(fake.shape[1:]))
    ext = build(extractor or default_extractor(shape), device)
    set_precision(ext, precision)
    ext.check_input(shape, "the images")
    metrics = _check_metrics(metrics, ext)
    if progress is not None:
        progress.total = progress.done + len(real_x) + len(fake)
    feats_r, _, cached, stats = real_features(real_x, real_scale, ext, source=real_name, seed=seed,
                                              progress=progress)
    feats_f, logits_f = extract(ext, _batches(fake, 1.0), progress=progress)
    res = compute(feats_r, feats_f, logits_f, metrics, seed=seed, real_stats=stats)
    res["protocol"] = {**ext.protocol(), "precision": precision_of(ext),
                       "image_shape": "x".join(map(str, shape)), "real": real_name,
                       "fake": fake_name, "n_real": len(feats_r), "n_fake": len(feats_f), "seed": seed,
                       "kid": "cubic kernel, 100 subsets of min(1000, n)", "pr_k": 3, "dc_k": 5,
                       "reference_cached": cached}
    return res


def _subset_n(n: Optional[int], data):
    if n is not None and n < 2:
        raise GenlabError(f"--n {n} is too small; sample metrics need at least 2 images per set")
    return data if n is None else data.subset(n, seed=0)


def evaluate_paths(real: str, fake: str, *, metrics: list[str], extractor: Optional[str], n: Optional[int],
                   device: torch.device, seed: int, precision: Optional[str] = None, progress=None) -> dict:
    """Compare two image sets, each an image folder, a .npy/.npz array or a dataset split."""
    from ..data import load_any

    r = _subset_n(n, load_any(real))
    f = _subset_n(n, load_any(fake))
    if r.x.dim() != 4 or f.x.dim() != 4:
        raise GenlabError("sample metrics need images (N x C x H x W or N x H x W arrays), got vectors")
    for name, d in ((real, r), (fake, f)):
        if not d.info.bounded:
            raise GenlabError(f"{name} holds physical fields ({d.info.spec.describe()}), not images in [0, 1]; "
                              "FID/KID/PR/DC need images (save samples as .npy with values in [0, 1])")
    return _evaluate(r.x, r.scale, f.all(), real_name=real, fake_name=fake, metrics=metrics,
                     extractor=extractor, device=device, seed=seed, precision=precision, progress=progress)


def evaluate_run_samples(run, data, *, metrics: list[str], extractor: Optional[str], n: int,
                         device: torch.device, seed: int, precision: Optional[str] = None, progress=None) -> dict:
    """Draw n samples from a loaded run (EMA weights if loaded) and compare them with `data`.
    progress: a `genlab.progress.Progress`, advanced per image sampled and per image through the extractor."""
    from ..runs import draw

    if not run.info.is_image or not run.info.bounded:
        raise GenlabError("sample-quality metrics (fid, kid, ...) need an image model; this run's data "
                          f"are {run.info.spec.describe()} (perceptual features mean nothing for physical fields)")
    if run.model.conditional:
        raise GenlabError(f"model {run.config.model_name!r} maps inputs to outputs; it has no unconditional "
                          "samples to score with FID/KID")
    if n < 2:
        raise GenlabError(f"--n {n} is too small; sample metrics need at least 2 samples")
    real = data.subset(n, seed=0)
    if progress is not None:
        progress.total = progress.done + n + len(real) + n  # samples drawn, then real and fake features
    with torch.inference_mode():
        fake = draw(run.model, n, seed, device, progress=progress).clamp(0, 1)
    return _evaluate(real.x, real.scale, fake, real_name=f"{data.name}:{data.split}",
                     fake_name=f"{run.run_dir} (step {run.step}{', EMA' if run.ema else ''})",
                     metrics=metrics, extractor=extractor, device=device, seed=seed, precision=precision,
                     progress=progress)
