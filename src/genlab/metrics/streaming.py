"""Sample-quality metrics as objects that stream batches: `update(images, real=...)`, `compute()`, `reset()`
(the torchmetrics convention), on genlab's registered feature extractors.

    fid = FID("fmnist-classifier")
    for x in real_batches:
        fid.update(x, real=True)        # (B, C, H, W) floats in [0, 1], or uint8 counts
    for x in fake_batches:
        fid.update(x, real=False)
    fid.compute()                       # a float; the same number as `genlab eval` on the same images

FID keeps only running float64 sums per side (count, mean, centred scatter, merged batch by batch with
Chan et al.'s update, so the covariance is as accurate as the two-pass one); KID, precision/recall and
density/coverage need every feature vector and keep them (N x D float64). Every number comes from
`genlab.metrics.functional`, the functions `genlab eval` uses.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional, Union

import torch
from torch import Tensor

from ..errors import GenlabError
from . import functional as F
from .features import Extractor, build, extract

__all__ = ["FeatureMetric", "FID", "KID", "PrecisionRecall", "DensityCoverage", "InceptionScore", "ExtractorModule"]


class FeatureMetric(ABC):
    """Images -> features of one extractor, accumulated over `update` calls.

    extractor: a registered name (`genlab list extractors`), an `Extractor`, or None to pick by the image
    shape of the first batch (fmnist-classifier for 1x28x28, digits-classifier for 1x8x8, else inception).
    precision: 'auto' (the extractor's own arithmetic, as `genlab eval`), 'fp32' or 'bf16'.
    reset_real: whether `reset()` also forgets the real side (False: compare many fake sets to one real).
    """

    def __init__(self, extractor: Union[str, Extractor, None] = None, *, device: Union[str, torch.device] = "cpu",
                 precision: str = "auto", reset_real: bool = True):
        self.device = torch.device(device)
        self.precision = precision
        self.reset_real = reset_real
        self._ext: Optional[Extractor] = extractor if isinstance(extractor, Extractor) else None
        self._ext_name = extractor if isinstance(extractor, str) else None
        if self._ext is not None:
            self._set_precision(self._ext)
        self._shape: Optional[tuple] = None
        self.reset(real=True)

    # --- the extractor ------------------------------------------------------------------------
    @property
    def extractor(self) -> Extractor:
        if self._ext is None:
            if self._shape is None and self._ext_name is None:
                raise GenlabError("no extractor yet: name one, or call update() with images first")
            from .quality import default_extractor

            self._ext = build(self._ext_name or default_extractor(self._shape), self.device)
            self._set_precision(self._ext)
        return self._ext

    def _set_precision(self, ext: Extractor) -> None:
        from .quality import set_precision

        set_precision(ext, self.precision)

    def protocol(self) -> dict:
        """The extractor's protocol (what must match for two numbers to be comparable)."""
        from .quality import precision_of

        return {**self.extractor.protocol(), "precision": precision_of(self.extractor)}

    def features(self, images: Tensor) -> tuple[Tensor, Optional[Tensor]]:
        """(B, C, H, W) images in [0, 1] (float) or 0..255 (uint8) -> float64 features (B, D), logits."""
        x = torch.as_tensor(images)
        if x.dim() != 4:
            raise GenlabError(f"images must be (B, C, H, W), got shape {tuple(x.shape)}")
        if x.dtype == torch.uint8:
            x = x.float() * (1.0 / 255)
        shape = tuple(x.shape[1:])
        if self._shape is None:
            self._shape = shape
        elif shape != self._shape:
            raise GenlabError(f"images of {'x'.join(map(str, shape))} after images of "
                              f"{'x'.join(map(str, self._shape))}; one metric compares one image size")
        self.extractor.check_input(shape, "the images")
        return extract(self.extractor, [x.float()])

    # --- the metric convention ----------------------------------------------------------------
    def update(self, images: Tensor, real: bool) -> None:
        """Add a batch of real (real=True) or generated (real=False) images."""
        feats, logits = self.features(images)
        self.update_features(feats, real, logits=logits)

    @abstractmethod
    def update_features(self, features: Tensor, real: bool, *, logits: Optional[Tensor] = None) -> None:
        """Add precomputed (B, D) features (e.g. of another extractor)."""
        raise NotImplementedError

    @abstractmethod
    def compute(self):
        raise NotImplementedError

    @abstractmethod
    def reset(self, *, real: Optional[bool] = None) -> None:
        """Forget the generated side, and the real side unless reset_real=False (or real=False)."""
        raise NotImplementedError


class _RunningStats:
    """Count, mean and centred scatter matrix of a stream of float64 rows (Chan et al. 1979)."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, None, None

    def add(self, x: Tensor) -> None:
        x = x.detach().to("cpu", torch.float64)
        b = len(x)
        if b == 0:
            return
        mu_b = x.mean(0)
        xc = x - mu_b
        m2_b = xc.T @ xc  # (D, D)
        if self.n == 0:
            self.n, self.mean, self.m2 = b, mu_b, m2_b
            return
        n = self.n + b
        delta = mu_b - self.mean
        self.mean = self.mean + delta * (b / n)
        self.m2 = self.m2 + m2_b + torch.outer(delta, delta) * (self.n * b / n)
        self.n = n

    def stats(self, what: str) -> tuple[Tensor, Tensor]:
        if self.n < 2:
            raise GenlabError(f"{what}: need at least 2 samples for a covariance, got {self.n}")
        d = self.mean.numel()
        if self.n <= d:
            import warnings

            warnings.warn(f"{what}: {self.n} samples for {d}-dimensional features; the covariance is singular "
                          "(rank <= N-1), so FID is biased upward and only comparable at the same N", stacklevel=3)
        return self.mean, self.m2 / (self.n - 1)


class FID(FeatureMetric):
    """Fréchet distance between real and generated feature distributions (Heusel et al. 2017)."""

    def reset(self, *, real: Optional[bool] = None) -> None:
        if (self.reset_real if real is None else real) or not hasattr(self, "_real"):
            self._real = _RunningStats()
        self._fake = _RunningStats()

    def update_features(self, features: Tensor, real: bool, *, logits: Optional[Tensor] = None) -> None:
        (self._real if real else self._fake).add(F._as64(features, "features"))

    def compute(self) -> float:
        mu_r, s_r = self._real.stats("real features")
        mu_f, s_f = self._fake.stats("generated features")
        return F.frechet_distance(mu_r, s_r, mu_f, s_f)


class _Keep(FeatureMetric):
    """Keeps every feature vector (metrics that need them all)."""

    def reset(self, *, real: Optional[bool] = None) -> None:
        if (self.reset_real if real is None else real) or not hasattr(self, "_real"):
            self._real: list[Tensor] = []
        self._fake: list[Tensor] = []
        self._fake_logits: list[Tensor] = []

    def update_features(self, features: Tensor, real: bool, *, logits: Optional[Tensor] = None) -> None:
        (self._real if real else self._fake).append(F._as64(features, "features"))
        if not real and logits is not None:
            self._fake_logits.append(logits.detach().to("cpu", torch.float64))

    def _sets(self) -> tuple[Tensor, Tensor]:
        if not self._real or not self._fake:
            raise GenlabError(f"{type(self).__name__}: update() with real=True and with real=False first")
        return torch.cat(self._real), torch.cat(self._fake)


class KID(_Keep):
    """Kernel inception distance: mean and std of unbiased MMD² (cubic kernel) over random subsets."""

    def __init__(self, extractor=None, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0, **kw):
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed
        super().__init__(extractor, **kw)

    def compute(self) -> tuple[float, float]:
        """(kid_mean, kid_std); the subsets are drawn from a generator seeded with `seed` (as genlab eval)."""
        x, y = self._sets()
        return F.kid(x, y, subsets=self.subsets, subset_size=self.subset_size,
                     generator=torch.Generator().manual_seed(self.seed))


class PrecisionRecall(_Keep):
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls."""

    def __init__(self, extractor=None, *, k: int = 3, **kw):
        self.k = k
        super().__init__(extractor, **kw)

    def compute(self) -> tuple[float, float]:
        return F.precision_recall(*self._sets(), k=self.k)


class DensityCoverage(_Keep):
    """Density and coverage (Naeem et al. 2020)."""

    def __init__(self, extractor=None, *, k: int = 5, **kw):
        self.k = k
        super().__init__(extractor, **kw)

    def compute(self) -> tuple[float, float]:
        return F.density_coverage(*self._sets(), k=self.k)


class InceptionScore(_Keep):
    """exp(E KL(p(y|x) || p(y))) of generated images, from the extractor's class logits (`update(x)`)."""

    def __init__(self, extractor=None, *, splits: int = 10, **kw):
        self.splits = splits
        super().__init__(extractor, **kw)

    def update(self, images: Tensor, real: bool = False) -> None:
        if real:
            raise GenlabError("InceptionScore scores generated images only; call update(images)")
        if not self.extractor_has_logits(images):
            raise GenlabError(f"extractor {self.extractor.name!r} has no class logits; use a classifier extractor")
        super().update(images, real=False)

    def extractor_has_logits(self, images: Tensor) -> bool:
        if self._shape is None:
            self._shape = tuple(torch.as_tensor(images).shape[1:])
        return self.extractor.has_logits

    def compute(self) -> tuple[float, float]:
        if not self._fake_logits:
            raise GenlabError("InceptionScore: update() with generated images first")
        return F.inception_score(torch.cat(self._fake_logits), splits=self.splits)


class ExtractorModule(torch.nn.Module):
    """A registered genlab extractor as a torch module, (B, C, H, W) images in [0, 1] -> float64 features
    (B, D), computed exactly as `genlab eval` computes them. For hosts that take a feature network, e.g.
    torchmetrics: `FrechetInceptionDistance(feature=ExtractorModule("fmnist-classifier"))`."""

    def __init__(self, name: str, *, device: Union[str, torch.device] = "cpu", precision: str = "auto"):
        super().__init__()
        from .quality import set_precision

        self.extractor = build(name, torch.device(device))
        set_precision(self.extractor, precision)
        self.num_features = self.extractor.feature_dim

    def forward(self, images: Tensor) -> Tensor:
        x = images.float() * (1.0 / 255) if images.dtype == torch.uint8 else images.float()
        return extract(self.extractor, [x])[0]
