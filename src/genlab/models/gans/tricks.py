"""GAN training tricks that act on the discriminator's inputs or weights (all randomness explicit).

- one-sided label smoothing (Salimans et al. 2016): the real target becomes 1 − s (fakes stay 0);
- label flipping: with probability p an example's real and fake inputs swap sides in the D loss;
- instance noise (Sønderby et al. 2017): N(0, σ_t²) added to every D input, σ_t annealed linearly
  from σ₀ to 0 over `anneal_steps` (0 = constant σ₀);
- spectral normalisation (Miyato et al. 2018) of every linear/conv weight of D;
- WGAN weight clipping: projection of D's parameters onto [−c, c];
- packing (PacGAN, Lin et al. 2018): D judges m samples at once, all real or all fake, concatenated
  along the first feature axis.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ..base import rand, randn


def flip_labels(real: Tensor, fake: Tensor, p: float, *,
                generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor]:
    """Swap real[i] and fake[i] with probability p each (one draw per example); p = 0 is a no-op."""
    if p <= 0:
        return real, fake
    flip = rand((real.shape[0],), generator=generator, device=real.device) < p  # (B,)
    mask = flip.view(-1, *([1] * (real.dim() - 1)))  # (B, 1, ..., 1)
    return torch.where(mask, fake, real), torch.where(mask, real, fake)


def pack(x: Tensor, m: int) -> Tensor:
    """PacGAN packing: (B, d1, ...) -> (B // m, m·d1, ...), row j = [x_{jm}, x_{jm+1}, ..., x_{jm+m−1}]
    (m consecutive examples concatenated along the first feature axis: coordinates of vectors,
    channels of images). The last B mod m examples are dropped; m = 1 returns x unchanged."""
    if m == 1:
        return x
    b = x.shape[0] - x.shape[0] % m
    if b == 0:
        raise ValueError(f"a batch of {x.shape[0]} examples is smaller than model.pack={m}; expected "
                         f"train.batch_size >= {m}")
    return x[:b].reshape(b // m, m * x.shape[1], *x.shape[2:])  # (B, d1, ...) -> (B/m, m·d1, ...)


def noise_std(step: int, sigma: float, anneal_steps: int) -> float:
    """σ_t = σ₀ · max(0, 1 − t / anneal_steps) (σ₀ throughout when anneal_steps = 0)."""
    if anneal_steps <= 0:
        return sigma
    return sigma * max(0.0, 1.0 - step / anneal_steps)


def instance_noise(x: Tensor, sigma: float, *, generator: Optional[torch.Generator] = None) -> Tensor:
    """x + σ ε, ε ~ N(0, I) (σ = 0 returns x unchanged)."""
    if sigma <= 0:
        return x
    return x + sigma * randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def spectral_normalize(module: nn.Module) -> nn.Module:
    """Wrap every Linear/Conv/ConvTranspose weight of `module` in a spectral-norm parametrisation
    (one power iteration per forward in training mode)."""
    from torch.nn.utils.parametrizations import spectral_norm

    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            setattr(module, name, spectral_norm(child))
        else:
            spectral_normalize(child)
    return module


@torch.no_grad()
def clip_weights_(module: nn.Module, c: float) -> None:
    """Project every parameter of `module` onto [−c, c] in place (WGAN's Lipschitz constraint)."""
    for p in module.parameters():
        p.clamp_(-c, c)


def dcgan_init_(module: nn.Module) -> nn.Module:
    """DCGAN initialisation (Radford et al. 2016): conv/linear weights ~ N(0, 0.02²), BN γ ~ N(1, 0.02²),
    biases 0. Draws from the global RNG, which `build_model` forks and seeds."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


def random_roll(x: Tensor, dims, *, generator=None) -> Tensor:
    """Each example of x (B, ...) circularly shifted by its own uniform random offset along every dim in
    `dims` (x'[b, ..., i, ...] = x[b, ..., (i - s_b) mod n, ...]), offsets drawn from `generator`."""
    for d in dims:
        n = x.shape[d]
        shift = torch.randint(0, n, (x.shape[0],), generator=generator, device=x.device)  # (B,)
        idx = (torch.arange(n, device=x.device)[None, :] - shift[:, None]) % n  # (B, n)
        shape = [x.shape[0]] + [1] * (x.dim() - 1)
        shape[d] = n
        x = torch.gather(x, d, idx.view(shape).expand_as(x))
    return x
