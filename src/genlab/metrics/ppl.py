"""Perceptual path length (Karras et al. 2019, §4.2): how much the image changes, perceptually, per unit of
latent distance along interpolation paths — low for a smooth, "disentangled" latent space.

    PPL_Z = E[ d(g(slerp(z₁, z₂; t)), g(slerp(z₁, z₂; t + ε))) / ε² ],   z ~ N(0, I), t ~ U(0, 1)
    PPL_W = E[ d(g(lerp(w₁, w₂; t)), g(lerp(w₁, w₂; t + ε))) / ε² ],     w = f(z)

ε = 1e-4; slerp along the great circle (with the norm interpolated linearly: StyleGAN's mapping
normalises z, so only the direction matters there, as with the paper's unit-sphere slerp), lerp in W; no
truncation (ψ = 1) and the generator's fixed noise maps; the mean is taken over the distances between the
1st and 99th percentiles (StyleGAN's reference code), so a few discontinuities do not dominate it.
sampling='end' puts t = 0 (path endpoints) instead of t ~ U(0, 1).

d: the paper's LPIPS (VGG-16) is not available offline, so d(x, y) = ‖φ(x) − φ(y)‖² with φ a registered
genlab extractor: the dataset's classifier (fmnist-classifier / digits-classifier, 128-d penultimate
features; the one trained on exactly these images) where it fits, else inception (2048-d pool features,
which resizes any image). Values are comparable only under the same extractor (the protocol records it);
everything runs in float32 (bf16 would drown an ε = 1e-4 step in rounding).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor

from ..errors import GenlabError

EPS = 1e-4


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Great-circle interpolation with one fraction t per row: the direction â cos(tΩ) + û sin(tΩ),
    û = unit(b̂ − (â·b̂) â), Ω = ∠(a, b), times the norm (1 − t)‖a‖ + t‖b‖. a, b: (N, D), t: (N,) -> (N, D).
    (StyleGAN's mapping normalises z, so there only the direction matters, as in the paper's unit slerp.)"""
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)  # (N, 1)
    ua, ub = a / na, b / nb
    dot = (ua * ub).sum(-1, keepdim=True).clamp(-1.0, 1.0)  # (N, 1)
    u = ub - dot * ua
    u = u / u.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    t = t.reshape(-1, 1).to(a.dtype)
    angle = torch.acos(dot) * t
    return (ua * torch.cos(angle) + u * torch.sin(angle)) * torch.lerp(na, nb, t)


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """(1 − t) a + t b with one t per row. a, b: (N, D), t: (N,)."""
    return torch.lerp(a, b, t.reshape(-1, 1).to(a.dtype))


PATHS = {"slerp": slerp, "lerp": lerp}


def path_distances(decode: Callable[[Tensor], Tensor], features: Callable[[Tensor], Tensor], a: Tensor,
                   b: Tensor, t: Tensor, *, path: str, eps: float = EPS, batch: int = 250,
                   progress=None) -> Tensor:
    """d(g(p(t)), g(p(t + ε))) / ε² per pair: latents a, b (N, D), fractions t (N,) -> (N,) float64.
    decode: latents (M, D) -> images (M, C, H, W); features: images -> (M, F)."""
    interp = PATHS[path]
    out = []
    for i in range(0, len(a), batch):
        sl = slice(i, i + batch)
        p0, p1 = interp(a[sl], b[sl], t[sl]), interp(a[sl], b[sl], t[sl] + eps)
        f = features(decode(torch.cat([p0, p1]))).double()  # (2m, F)
        f0, f1 = f.chunk(2)
        out.append((f0 - f1).pow(2).sum(1) / eps ** 2)
        if progress is not None:
            progress.update(len(p0))
    return torch.cat(out)


def trimmed_mean(d: Tensor, lo: float = 1.0, hi: float = 99.0) -> float:
    """Mean of the values between the lo-th (rounded down) and hi-th (rounded up) percentiles."""
    q_lo = torch.quantile(d, lo / 100, interpolation="lower")
    q_hi = torch.quantile(d, hi / 100, interpolation="higher")
    return float(d[(d >= q_lo) & (d <= q_hi)].mean())


def _pairs(model, n: int, seed: int, sampling: str) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator(model.device).manual_seed(seed)
    z = model.sample_latent(2 * n, generator=g).float()
    t = torch.rand(n, generator=torch.Generator().manual_seed(seed + 1)).to(z.device)
    return z[:n], z[n:], t * (1.0 if sampling == "full" else 0.0)


@torch.no_grad()
def evaluate_ppl(model, *, n: int, extractor: Optional[str] = None, spaces: tuple[str, ...] = ("z", "w"),
                 seed: int = 0, eps: float = EPS, sampling: str = "full", batch: int = 250,
                 device: Optional[torch.device] = None, progress=None) -> dict:
    """PPL of a model in the latent spaces it has: Z (decode + sample_latent; Z paths decode through W
    at ψ = 1 when the model has one) and W (to_w + decode_w). Returns {"ppl_z": ..., "ppl_w": ...,
    "protocol": {...}}; spaces the model lacks are skipped (a model with neither is a GenlabError)."""
    from . import features as feats
    from .quality import default_extractor

    caps = model.capabilities()
    have_w = {"to_w", "decode_w"} <= caps
    todo = [s for s in spaces if s == "w" and have_w or s == "z" and {"decode", "sample_latent"} <= caps]
    if not todo:
        raise GenlabError(f"model {type(model).__name__} has no latent space to measure path lengths in; "
                          "ppl needs a model that decodes latents (GANs, ae, vae, stylegan)")
    if n < 2:
        raise GenlabError(f"--n {n} is too small for ppl; give at least 2 path samples (the paper: 100,000)")
    if sampling not in ("full", "end"):
        raise ValueError(f"sampling {sampling!r}; expected full or end")
    shape = tuple(model.data.shape)
    ext = feats.build(extractor or default_extractor(shape), device or model.device)
    ext.check_input(shape, "this run's images")

    def features(x: Tensor) -> Tensor:
        return feats.extract(ext, [x], bf16=False)[0]

    z0, z1, t = _pairs(model, n, seed, sampling)
    if progress is not None:
        progress.total = progress.done + n * len(todo)
    out: dict = {}
    for space in todo:
        if space == "w":
            a, b = model.to_w(z0, psi=1.0), model.to_w(z1, psi=1.0)
            d = path_distances(model.decode_w, features, a, b, t, path="lerp", eps=eps, batch=batch,
                               progress=progress)
        else:
            decode = (lambda z: model.decode_w(model.to_w(z, psi=1.0))) if have_w else model.decode
            d = path_distances(decode, features, z0, z1, t, path="slerp", eps=eps, batch=batch,
                               progress=progress)
        out[f"ppl_{space}"] = trimmed_mean(d)
    out["protocol"] = {**ext.protocol(), "precision": "fp32", "distance": "squared L2 of features / eps^2",
                       "eps": eps, "n": n, "seed": seed, "sampling": sampling, "z_path": "slerp",
                       "w_path": "lerp", "trim": "1st-99th percentile", "psi": 1.0, "noise": "fixed maps"}
    return out
