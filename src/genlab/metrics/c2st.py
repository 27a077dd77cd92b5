"""Classifier two-sample test (C2ST; Lopez-Paz & Oquab 2017, "Revisiting classifier two-sample tests").

Can a classifier tell real examples from generated ones? A small CNN is trained from scratch, on a
balanced set of n real and n generated (N, C, H, W) examples, to say which is which; its accuracy on
examples it never saw is the statistic. If the two sets come from the same distribution (H0) no
classifier beats chance on held-out data, so the held-out accuracy is 1/2 in expectation, and an
accuracy well above 1/2 is evidence that the generated examples are distinguishable from real ones.

P-value. With m held-out predictions of which k are right,

    p = P(K ≥ k | K ~ Binomial(m, 1/2)) = Σ_{j=k}^{m} C(m, j) 2^(−m)        (one-sided, exact).

This is exact for a single holdout split: given the trained classifier f (a function of the training
part only), the held-out examples are independent of f, and under H0 the label of each held-out example
is independent of f(x); a real one is called right with probability q = P(f(x) = real) and a generated
one with 1 − q, so with equal numbers of each the count K is a sum of independent Bernoulli trials of
mean 1/2 on average, whose upper tail is no heavier than Binomial(m, 1/2)'s (Hoeffding 1956).

Cross-fitting (the default, K folds). Real snapshots are expensive (a simulator makes ~1 per second), and
the issue asks for ≥ 1,000 held-out pairs: with n real examples a 50 % holdout gives only n/2 pairs. So
the n pairs are split into K folds; for each fold a fresh classifier is trained on the other K − 1 folds
and predicts the held-out one, so every example is held out exactly once (m = 2n predictions) and no
prediction comes from a classifier that saw that example. Each fold's count is therefore exactly as above
(Binomial-dominated under H0), and the pooled accuracy is an unbiased estimate of the accuracy of a
classifier trained on (K − 1)/K of the data. The pooled p-value treats the K fold counts as independent;
they are not quite (the folds' classifiers share training data), so it is exact for holdout and a close
approximation for cross-fitting; `p_value_conservative` = min(1, K · min_fold p_fold) (Bonferroni over
the folds' exact p-values) is valid under any dependence between folds.

Protocol (returned with the result): per-channel standardisation with the mean and std of the *real
training fold only*; an inner validation split (10 % of the training fold, balanced) for early stopping
on its cross-entropy (best epoch kept); Adam; convolutions with periodic padding along the data's periodic
axes; the network pools over periodic axes (translation invariance) and keeps position along bounded
ones. Everything is seeded from `seed` through explicit generators (global RNG state is left alone).
"""
from __future__ import annotations

import math
import time
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import GenlabError
from ..nn.padding import PaddedConv2d

MIN_PER_CLASS = 20


class C2STNet(nn.Module):
    """(B, C, H, W) -> (B,) logit of "real". Stride-2 3×3 convolutions (width, 2·width, ...) with SiLU until
    both spatial sizes are ≤ 4 (at most 4 layers), then a mean over the periodic axes, flatten, linear."""

    def __init__(self, shape: Sequence[int], *, periodic: Sequence[int] = (), width: int = 16):
        super().__init__()
        c, h, w = (int(s) for s in shape)
        dims = tuple(a + 1 for a in periodic)  # (C, H, W) axes -> (B, C, H, W) dims
        layers: list[nn.Module] = []
        c_in = c
        while max(h, w) > 4 and len(layers) < 8:
            c_out = width * 2 ** (len(layers) // 2)
            layers += [PaddedConv2d(c_in, c_out, 3, stride=2, periodic_axes=dims), nn.SiLU()]
            c_in, h, w = c_out, (h + 1) // 2, (w + 1) // 2
        self.features = nn.Sequential(*layers)
        self.pool = tuple(d for d in (2, 3) if d in dims)
        n_feat = c_in * (1 if 2 in self.pool else h) * (1 if 3 in self.pool else w)
        self.head = nn.Linear(n_feat, 1)

    def forward(self, x: Tensor) -> Tensor:
        f = self.features(x)  # (B, C', H', W')
        if self.pool:
            f = f.mean(dim=self.pool, keepdim=True)  # (B, C', 1 | H', 1 | W')
        return self.head(f.flatten(1)).squeeze(1)  # (B,)


def _check(real: Tensor, fake: Tensor, periodic: Sequence[int]) -> None:
    for name, t in (("real", real), ("fake", fake)):
        if t.dim() != 4:
            raise GenlabError(f"c2st: {name} must be (N, C, H, W) examples, got shape {tuple(t.shape)}")
        if not torch.isfinite(t).all():
            raise GenlabError(f"c2st: {name} examples contain NaN or inf")
    if real.shape[1:] != fake.shape[1:]:
        raise GenlabError(f"c2st: real examples are {tuple(real.shape[1:])} but generated ones "
                          f"{tuple(fake.shape[1:])}; compare examples of one shape")
    if any(a not in (1, 2) for a in periodic):
        raise GenlabError(f"c2st: periodic axes {tuple(periodic)} are invalid; use 1 (H) and/or 2 (W) of (C, H, W)")


def _folds(n: int, folds: int, holdout: Optional[float], g: torch.Generator) -> list[Tensor]:
    """Held-out positions (into the n pairs) of each fold."""
    perm = torch.randperm(n, generator=g)
    if holdout is not None:
        k = min(n - MIN_PER_CLASS // 2, max(1, round(holdout * n)))  # leave something to train on
        return [perm[:k]]
    return [perm[i::folds] for i in range(folds)]


def c2st(real: Tensor, fake: Tensor, *, seed: int = 0, device=None, periodic: tuple[int, ...] = (),
         n_max: Optional[int] = None, progress=None, folds: int = 5, holdout: Optional[float] = None,
         max_epochs: int = 20, patience: int = 3, batch_size: int = 64, lr: float = 1e-2,
         width: int = 16) -> dict:
    """Classifier two-sample test of real vs generated (N, C, H, W) examples (any C, any H × W).

    real, fake: examples in any consistent space (physical units, [0, 1] or [−1, 1]; each channel is
        standardised by the real training fold). n = min(len(real), len(fake), n_max) of each are used
        (a seeded random choice), so the set is balanced.
    periodic: (C, H, W) axes that wrap around, e.g. (2,) for x of convection, (1, 2) for a torus.
    folds: K-fold cross-fitting (every example held out once); holdout: instead, a single split holding
        out this fraction of the pairs (e.g. 0.5).
    progress: a genlab.progress.Progress, advanced per training epoch.

    Returns {accuracy, p_value (one-sided exact binomial vs 1/2), p_value_conservative, n_pairs (held-out
    pairs), n_heldout (= 2 n_pairs predictions), correct, ci95 (Clopper–Pearson), fold_accuracy, seconds,
    protocol}.
    """
    from scipy import stats

    t0 = time.perf_counter()
    real, fake = torch.as_tensor(real), torch.as_tensor(fake)
    _check(real, fake, periodic)
    if holdout is None and not (isinstance(folds, int) and folds >= 2):
        raise GenlabError(f"c2st: folds={folds!r} is invalid; give an integer >= 2 or a holdout fraction")
    if holdout is not None and not 0 < holdout < 1:
        raise GenlabError(f"c2st: holdout={holdout!r} is invalid; give a fraction between 0 and 1")
    dev = torch.device(device or "cpu")
    g = torch.Generator().manual_seed(seed)
    n = min(len(real), len(fake), n_max or len(real))
    if n < MIN_PER_CLASS or (holdout is None and folds > n // 4):
        raise GenlabError(f"c2st: {n} examples per class are too few; give at least "
                          f"{max(MIN_PER_CLASS, 4 * folds if holdout is None else 0)} of each")
    real = real[torch.randperm(len(real), generator=g)[:n]].float()
    fake = fake[torch.randperm(len(fake), generator=g)[:n]].float()
    parts = _folds(n, folds, holdout, g)
    if progress is not None:
        progress.total = progress.done + len(parts) * max_epochs
    cfg = dict(max_epochs=max_epochs, patience=patience, batch_size=batch_size, lr=lr, width=width)
    correct, fold_acc, fold_p, steps, epochs = 0, [], [], [], []
    for i, held in enumerate(parts):
        train = torch.ones(n, dtype=torch.bool)
        train[held] = False
        k, fit_steps, fit_epochs = _fold(real, fake, train, held, periodic, dev, seed * 1000 + i, cfg, progress)
        correct += k
        fold_acc.append(k / (2 * len(held)))
        fold_p.append(float(stats.binom.sf(k - 1, 2 * len(held), 0.5)))
        steps.append(fit_steps)
        epochs.append(fit_epochs)
    m = 2 * sum(len(h) for h in parts)
    ci = stats.binomtest(correct, m, 0.5).proportion_ci(0.95)
    net = _new_net(real.shape[1:], periodic, width, seed)
    split = (f"{len(parts)}-fold cross-fitting: every example held out once" if holdout is None
             else f"single holdout of {len(parts[0])} of {n} pairs")
    return {
        "accuracy": correct / m,
        "p_value": float(stats.binom.sf(correct - 1, m, 0.5)),
        "p_value_conservative": min(1.0, len(parts) * min(fold_p)),
        "n_pairs": m // 2,
        "n_heldout": m,
        "correct": correct,
        "ci95": [float(ci.low), float(ci.high)],
        "fold_accuracy": fold_acc,
        "seconds": time.perf_counter() - t0,
        "protocol": {
            "test": "classifier two-sample test (Lopez-Paz & Oquab 2017); H0: held-out accuracy = 0.5",
            "p_value": "one-sided exact binomial P(Binomial(n_heldout, 1/2) >= correct)",
            "split": split, "folds": len(parts) if holdout is None else 1, "holdout": holdout,
            "n_per_class": n, "seed": seed,
            "architecture": f"{_describe(net)}; {sum(p.numel() for p in net.parameters())} parameters",
            "periodic_axes": list(periodic),
            "standardisation": "per channel, mean and std of the real training fold",
            "optimiser": f"Adam lr {lr}, batch {batch_size}, binary cross-entropy",
            "early_stopping": f"inner validation = 10% of the training fold (balanced); best validation "
                              f"loss kept; patience {patience} epochs, at most {max_epochs}",
            "steps_per_fold": steps, "epochs_per_fold": epochs,
        },
    }


def _describe(net: C2STNet) -> str:
    convs = [m for m in net.features if isinstance(m, PaddedConv2d)]
    widths = "-".join(str(c.out_channels) for c in convs)
    pad = "periodic" if net.pool else "zeros"
    pool = {(): "flatten", (2,): "mean over H, flatten", (3,): "mean over W, flatten",
            (2, 3): "global mean"}[net.pool]
    return (f"CNN: {len(convs)} conv 3x3 stride 2 ({widths} channels, SiLU, {pad} padding"
            f"{' on periodic axes' if net.pool else ''}), {pool}, linear -> logit")


def _new_net(shape, periodic, width: int, seed: int) -> C2STNet:
    """A C2STNet with initial weights drawn from `seed`, leaving the global RNG state as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return C2STNet(shape, periodic=periodic, width=width)


def _fold(real: Tensor, fake: Tensor, train: Tensor, held: Tensor, periodic, dev, seed: int, cfg: dict,
          progress) -> tuple[int, int, int]:
    """Train a fresh classifier on the pairs marked `train`; return (# correct of the 2·len(held) held-out
    predictions, optimiser steps, epochs)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.nonzero(train).squeeze(1)
    idx = idx[torch.randperm(len(idx), generator=g)]
    n_val = max(2, len(idx) // 10)
    val, fit = idx[:n_val], idx[n_val:]
    mean = real[idx].mean(dim=(0, 2, 3), keepdim=True)  # (1, C, 1, 1): real training fold only
    std = real[idx].std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)

    def xy(pos: Tensor) -> tuple[Tensor, Tensor]:
        x = torch.cat([real[pos], fake[pos]], 0)  # (2P, C, H, W): real first
        y = torch.cat([torch.ones(len(pos)), torch.zeros(len(pos))])
        return ((x - mean) / std).to(dev), y.to(dev)

    x_fit, y_fit = xy(fit)
    x_val, y_val = xy(val)
    x_held, y_held = xy(held)
    net = _new_net(real.shape[1:], periodic, cfg["width"], seed).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"])
    best, best_state, bad, steps, epoch = math.inf, None, 0, 0, 0
    for epoch in range(1, cfg["max_epochs"] + 1):
        net.train()
        order = torch.randperm(len(x_fit), generator=g).to(dev)
        for s in range(0, len(order), cfg["batch_size"]):
            b = order[s:s + cfg["batch_size"]]
            loss = F.binary_cross_entropy_with_logits(net(x_fit[b]), y_fit[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
        val_loss = F.binary_cross_entropy_with_logits(_logits(net, x_val), y_val).item()
        if progress is not None:
            progress.update(1, val_loss=round(val_loss, 4))
        if val_loss < best - 1e-4:
            best, bad = val_loss, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg["patience"]:
                break
    if progress is not None:
        progress.skip(cfg["max_epochs"] - epoch)
    if best_state is not None:
        net.load_state_dict(best_state)
    pred = _logits(net, x_held) > 0
    return int((pred == (y_held > 0.5)).sum()), steps, epoch


@torch.no_grad()
def _logits(net: nn.Module, x: Tensor, batch: int = 512) -> Tensor:
    net.eval()
    return torch.cat([net(x[i:i + batch]) for i in range(0, len(x), batch)])


def gaussian_surrogate(x: Tensor, n: int, seed: int = 0) -> Tensor:
    """n Gaussian random fields (n, C, H, W) with the mean field and the mean 2-D power spectrum, per channel,
    of the examples x (N, C, H, W): the best a "Gaussian emulator" of x can do, a baseline for C2ST.

    Convention (as genlab.sim.random_fields, for H × W): with F the unnormalised 2-D DFT (torch.fft.rfft2),
    mean field μ = (1/N) Σ_i x_i and anomaly spectrum P(k) = (1/N) Σ_i |F(x_i − μ)_k|² / (H W) per mode and
    channel, the surrogate is y = μ + irfft2(F(w) · sqrt(P)) with w white N(0, 1) noise, so
    E|F(y − μ)_k|² / (H W) = P(k) exactly and E|F(y)_k|² = |F(μ)_k|² + P(k) H W equals the examples'
    (1/N) Σ_i |F(x_i)_k|². The surrogate is stationary about μ and periodic in both axes; cross-channel
    correlations and all non-Gaussian structure are discarded (that is the point).
    """
    x = torch.as_tensor(x).detach().to("cpu", torch.float64)
    if x.dim() != 4 or len(x) < 2:
        raise GenlabError(f"gaussian_surrogate: x must be (N >= 2, C, H, W) examples, got shape {tuple(x.shape)}")
    _, c, h, w = x.shape
    mu = x.mean(0, keepdim=True)  # (1, C, H, W)
    power = (torch.fft.rfft2(x - mu).abs() ** 2).mean(0) / (h * w)  # (C, H, W//2 + 1)
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn((n, c, h, w), generator=g, dtype=torch.float64)
    y = torch.fft.irfft2(torch.fft.rfft2(noise) * power.sqrt(), s=(h, w))  # (n, C, H, W)
    return (y + mu).to(torch.float32)
