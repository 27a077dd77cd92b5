"""Sample-quality metrics as pure functions of feature matrices (DESIGN §7).

All statistics are float64. Inputs: real features X (N, D), generated features Y (M, D) as torch tensors
(any float dtype; converted to float64). Randomness (KID subsets) comes from an explicit generator.

- FID  (Heusel et al. 2017):  ||mu_x - mu_y||^2 + Tr(S_x + S_y - 2 (S_x^1/2 S_y S_x^1/2)^1/2)
- KID  (Binkowski et al. 2018): unbiased MMD^2 with k(a, b) = (a.b / D + 1)^3, mean and std over subsets
- Improved precision / recall (Kynkaanniemi et al. 2019): k-NN balls around each real (generated) point
- Density / coverage (Naeem et al. 2020)
- Inception / classifier score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y)))
"""
from __future__ import annotations

import math
import warnings
from typing import Optional

import torch
from torch import Tensor

from ..errors import GenlabError


def _as64(x: Tensor, what: str) -> Tensor:
    x = torch.as_tensor(x).detach().to("cpu", torch.float64)
    if x.dim() != 2 or len(x) == 0:
        raise GenlabError(f"{what} must be a non-empty (N, D) feature matrix, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise GenlabError(f"{what} contain NaN or inf; check the images fed to the extractor")
    return x


def feature_stats(x: Tensor, *, what: str = "features") -> tuple[Tensor, Tensor]:
    """Mean (D,) and unbiased covariance (D, D) in float64.

    Warns when N <= D: the covariance is then rank-deficient (rank <= N-1), so FID is dominated by
    estimation noise and not comparable to FIDs computed from more samples.
    """
    x = _as64(x, what)
    n, d = x.shape
    if n < 2:
        raise GenlabError(f"{what}: need at least 2 samples for a covariance, got {n}")
    if n <= d:
        warnings.warn(f"{what}: {n} samples for {d}-dimensional features; the covariance is singular "
                      "(rank <= N-1), so FID is biased upward and only comparable at the same N", stacklevel=2)
    mu = x.mean(0)
    xc = x - mu  # (N, D)
    return mu, xc.T @ xc / (n - 1)


def _sqrt_psd(s: Tensor) -> Tensor:
    """Symmetric PSD square root by eigendecomposition (negative round-off eigenvalues clipped to 0)."""
    w, v = torch.linalg.eigh((s + s.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T  # (D, D)


def frechet_distance(mu1: Tensor, s1: Tensor, mu2: Tensor, s2: Tensor, *,
                     sqrt_s1: Optional[Tensor] = None) -> float:
    """||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1^1/2 S2 S1^1/2)^1/2), in float64.

    Tr((S1 S2)^1/2) is computed as the sum of sqrt(eigenvalues) of the symmetric PSD matrix
    S1^1/2 S2 S1^1/2 (same spectrum as S1 S2), which avoids the complex round-off of sqrtm(S1 S2).
    sqrt_s1: S1^1/2 if already known (the cached reference statistics keep it: one 2048x2048
    eigendecomposition fewer per evaluation).
    """
    mu1, mu2, s1, s2 = (torch.as_tensor(t, dtype=torch.float64) for t in (mu1, mu2, s1, s2))
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise GenlabError(f"feature statistics differ in shape ({tuple(mu1.shape)} vs {tuple(mu2.shape)}); "
                          "were they computed with different extractors?")
    r = _sqrt_psd(s1) if sqrt_s1 is None else torch.as_tensor(sqrt_s1, dtype=torch.float64)
    m = r @ s2 @ r  # (D, D) symmetric PSD
    ev = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0)
    fid = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * ev.sqrt().sum()
    return max(float(fid), 0.0)


def reference_stats(x: Tensor) -> dict[str, Tensor]:
    """What FID needs of the real side, computed once: mean, covariance and its PSD square root."""
    mu, s = feature_stats(x, what="real features")
    return {"mu": mu, "sigma": s, "sigma_sqrt": _sqrt_psd(s)}


def fid(x: Tensor, y: Tensor, *, real_stats: Optional[dict[str, Tensor]] = None) -> float:
    """FID between real features x (N, D) and generated features y (M, D); `real_stats` (from
    `reference_stats(x)`) skips recomputing the real side."""
    st = real_stats or reference_stats(x)
    return frechet_distance(st["mu"], st["sigma"], *feature_stats(y, what="generated features"),
                            sqrt_s1=st["sigma_sqrt"])


def _mmd2_unbiased(x: Tensor, y: Tensor) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel k(a, b) = (a.b / D + 1)^3."""
    m, d = x.shape
    kxx = (x @ x.T / d + 1) ** 3  # (m, m)
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kid(x: Tensor, y: Tensor, *, subsets: int = 100, subset_size: int = 1000,
        generator: Optional[torch.Generator] = None) -> tuple[float, float]:
    """KID = mean and std over `subsets` random subsets (without replacement within a subset) of
    unbiased MMD^2; subset_size is capped at min(N, M). Warns when a set has no more samples than
    subset_size: the subsets then overlap completely (std 0 when both sets are that small)."""
    x, y = _as64(x, "real features"), _as64(y, "generated features")
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise GenlabError(f"KID needs at least 2 samples per set, got {len(x)} real and {len(y)} generated")
    if min(len(x), len(y)) <= subset_size and subsets > 1:
        whole = m == len(x) == len(y)  # every subset is the whole of both sets
        warnings.warn(f"KID on {len(x)} real and {len(y)} generated samples with subsets of {subset_size}: "
                      + ("every subset is the whole set, so kid_std is 0 and says nothing about the uncertainty"
                         if whole else f"subsets of {m} always hold all of the smaller set, so kid_std "
                         "underestimates the uncertainty")
                      + f"; use more than {subset_size} samples per set (or a smaller subset size)", stacklevel=2)
    g = generator or torch.Generator().manual_seed(0)
    vals = torch.tensor([_mmd2_unbiased(x[torch.randperm(len(x), generator=g)[:m]],
                                        y[torch.randperm(len(y), generator=g)[:m]]) for _ in range(subsets)],
                        dtype=torch.float64)
    return float(vals.mean()), float(vals.std()) if subsets > 1 else 0.0


def _dists(a: Tensor, b: Tensor, chunk: int = 2048):
    """Yield (row slice, Euclidean distances (chunk, len(b))) in float32 blocks (memory-bounded)."""
    a32, b32 = a.float(), b.float()
    for i in range(0, len(a32), chunk):
        yield slice(i, i + chunk), torch.cdist(a32[i:i + chunk], b32)


def knn_radii(x: Tensor, k: int) -> Tensor:
    """Distance from each row of x (N, D) to its k-th nearest other row, (N,)."""
    if len(x) <= k:
        raise GenlabError(f"k-NN radii with k={k} need more than {k} samples, got {len(x)}")
    out = torch.empty(len(x), dtype=torch.float32)
    for sl, d in _dists(x, x):
        out[sl] = d.topk(k + 1, dim=1, largest=False).values[:, k]  # index 0 is the point itself
    return out


def _inside_counts(points: Tensor, centres: Tensor, radii: Tensor) -> Tensor:
    """For each point: how many balls B(centre_i, radius_i) contain it, (len(points),)."""
    out = torch.empty(len(points), dtype=torch.int64)
    for sl, d in _dists(points, centres):
        out[sl] = (d <= radii[None, :]).sum(1)
    return out


def precision_recall(x: Tensor, y: Tensor, *, k: int = 3) -> tuple[float, float]:
    """Improved precision (fraction of generated points inside the real k-NN manifold) and recall
    (fraction of real points inside the generated k-NN manifold)."""
    x, y = _as64(x, "real features"), _as64(y, "generated features")
    precision = (_inside_counts(y, x, knn_radii(x, k)) > 0).double().mean()
    recall = (_inside_counts(x, y, knn_radii(y, k)) > 0).double().mean()
    return float(precision), float(recall)


def density_coverage(x: Tensor, y: Tensor, *, k: int = 5) -> tuple[float, float]:
    """density = 1/(kM) sum_j sum_i 1[y_j in B(x_i, NND_k(x_i))];
    coverage = 1/N sum_i 1[exists j: y_j in B(x_i, NND_k(x_i))]."""
    x, y = _as64(x, "real features"), _as64(y, "generated features")
    r = knn_radii(x, k)
    density = _inside_counts(y, x, r).double().sum() / (k * len(y))
    covered = torch.zeros(len(x), dtype=torch.bool)
    for sl, d in _dists(x, y):
        covered[sl] = d.min(1).values <= r[sl]
    return float(density), float(covered.double().mean())


def inception_score(logits: Tensor, *, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) per split of the samples; returns (mean, std) over splits."""
    lp = torch.log_softmax(_as64(logits, "logits"), dim=1)  # (N, K)
    splits = max(1, min(splits, len(lp)))
    scores = []
    for part in torch.tensor_split(lp, splits):
        log_py = torch.logsumexp(part, 0) - math.log(len(part))  # log of the marginal p(y), (K,)
        kl = (part.exp() * (part - log_py)).sum(1).mean()
        scores.append(float(kl.exp()))
    t = torch.tensor(scores, dtype=torch.float64)
    return float(t.mean()), float(t.std()) if splits > 1 else 0.0
