"""A power-spectrum term for generators of physical fields (as in CosmoGAN-style emulators, e.g. the
`cosmogan_pytorch` spectral loss): the generator is penalised when the batch-mean power spectrum of its
samples departs from that of the real batch, in log space.

    L_spec = mean_{c, r, k} ( log(P̄_fake(c, r, k) + ε) − log(P̄_real(c, r, k) + ε) )²,
    P̄(c, r, k) = (1/B) Σ_b |F[x_b,c](r, k)|² / N²,

where F is the discrete Fourier transform along the periodic axes of the field:
- both H and W periodic (a torus: log-normal maps, random fields): 2-D FFT, power averaged in radial
  bins of width 1 in |k| (units of 2π/L), k = 1 … min(H, W)/2 (r has one value);
- only W periodic (convection: periodic x, walls in z): 1-D FFT along W for every row r (height), so
  the spectrum's dependence on height is kept, k = 1 … W/2;
- only H periodic: the same along H for every column;
- none periodic: treated as the 2-D case (the FFT's implicit wrap-around adds edge power; state it).
k = 0 (the mean) is left to the adversarial term. ε = 1e-12 · mean(P̄_real) keeps the log finite.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def radial_bins(h: int, w: int, device=None) -> tuple[Tensor, int]:
    """Integer radial bin index round(|k|) of every rfft2 mode of an H x W grid (k in units of 2π/L)
    and the number of bins kept (1 … min(H, W)/2)."""
    ky = torch.fft.fftfreq(h, d=1.0 / h, device=device)  # (H,) integer wavenumbers
    kx = torch.fft.rfftfreq(w, d=1.0 / w, device=device)  # (W/2+1,)
    k = torch.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)  # (H, W/2+1)
    return torch.round(k).long(), min(h, w) // 2


def batch_spectrum(x: Tensor, periodic_dims: Sequence[int] = (2, 3)) -> Tensor:
    """P̄ of a batch (B, C, H, W) as defined in the module docstring: (C, bins) for 2-D fields, (C, H, W/2)
    with only W periodic, (C, W, H/2) with only H periodic."""
    b, c, h, w = x.shape
    dims = {d % 4 for d in periodic_dims}
    if dims == {3}:
        p = torch.fft.rfft(x, dim=3).abs().pow(2).mean(0) / w ** 2  # (C, H, W/2+1)
        return p[:, :, 1:w // 2 + 1]
    if dims == {2}:
        p = torch.fft.rfft(x, dim=2).abs().pow(2).mean(0) / h ** 2  # (C, H/2+1, W)
        return p[:, 1:h // 2 + 1, :].transpose(1, 2)
    p = torch.fft.rfft2(x).abs().pow(2).mean(0) / (h * w) ** 2  # (C, H, W/2+1)
    idx, n_bins = radial_bins(h, w, x.device)
    flat = idx.flatten()
    keep = (flat >= 1) & (flat <= n_bins)
    sums = torch.zeros(c, n_bins + 1, device=x.device, dtype=p.dtype)
    sums.index_add_(1, flat[keep], p.flatten(1)[:, keep])
    counts = torch.bincount(flat[keep], minlength=n_bins + 1).to(p.dtype)
    return sums[:, 1:] / counts[1:]  # (C, bins)


def spectral_loss(fake: Tensor, real: Tensor, periodic_dims: Sequence[int] = (2, 3)) -> Tensor:
    """L_spec between the batch-mean spectra of `fake` and `real` (B, C, H, W); differentiable in fake."""
    pf = batch_spectrum(fake, periodic_dims)
    pr = batch_spectrum(real.detach(), periodic_dims)
    eps = 1e-12 * pr.mean().clamp_min(1e-30)
    return (torch.log(pf + eps) - torch.log(pr + eps)).pow(2).mean()
