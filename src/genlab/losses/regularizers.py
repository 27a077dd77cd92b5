"""Gradient penalties on the discriminator (added to L_D as λ · penalty, λ = 10 by default).

Both draw their randomness from an explicit torch.Generator and take one interpolation coefficient
per example (α of shape (B, 1, ..., 1)), never one per element or one per batch.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor


def rand(shape, *, generator: Optional[torch.Generator] = None, device=None,
         dtype=torch.float32) -> Tensor:
    """U[0, 1) noise from `generator` (on its device). Local twin of genlab.models.base.rand: losses sit
    below models in the layering and must not import them."""
    if generator is not None:
        device = generator.device
    return torch.rand(shape, generator=generator, device=device, dtype=dtype)


def interpolation_coefficients(like: Tensor, *, generator: Optional[torch.Generator] = None) -> Tensor:
    """α ~ U[0, 1), one per example, shaped (B, 1, ..., 1) to broadcast over `like` (B, ...)."""
    shape = (like.shape[0],) + (1,) * (like.dim() - 1)
    return rand(shape, generator=generator, device=like.device, dtype=torch.float32)


def gradient_norm_penalty(discriminator: Callable[[Tensor], Tensor], points: Tensor) -> Tensor:
    """E[(‖∇_x D(x)‖₂ − 1)²] at `points` (B, ...), differentiable w.r.t. D's parameters."""
    points = points.detach().requires_grad_(True)
    out = discriminator(points).float().sum()
    (grad,) = torch.autograd.grad(out, points, create_graph=True)
    grad = grad.float().flatten(1)  # (B, ...) -> (B, D)
    norm = (grad.pow(2).sum(1) + 1e-12).sqrt()  # eps: finite gradient of ‖·‖ at 0
    return (norm - 1.0).pow(2).mean()


def wgan_gp(discriminator: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, *,
            generator: Optional[torch.Generator] = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E_x̂[(‖∇D(x̂)‖₂ − 1)²], x̂ = α x + (1 − α) G(z), α ~ U[0, 1)
    drawn once per example."""
    alpha = interpolation_coefficients(real, generator=generator)
    points = alpha * real.detach().float() + (1.0 - alpha) * fake.detach().float()
    return gradient_norm_penalty(discriminator, points.to(real.dtype))


def dragan(discriminator: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, *,
           generator: Optional[torch.Generator] = None, scale: float = 0.5) -> Tensor:
    """DRAGAN (Kodali et al. 2017): E_x̃[(‖∇D(x̃)‖₂ − 1)²] around the real data only:
    x̃ = x + α δ,  δ = scale · std(x) · u,  u ~ U[0, 1) elementwise, α ~ U[0, 1) once per example
    (the perturbation of Kodali et al.'s and compare_gan's implementations). `fake` is unused."""
    x = real.detach().float()
    delta = scale * x.std() * rand(x.shape, generator=generator, device=x.device)
    alpha = interpolation_coefficients(x, generator=generator)
    return gradient_norm_penalty(discriminator, (x + alpha * delta).to(real.dtype))


def r1_penalty(discriminator: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): E_x[‖∇_x D(x)‖²] on real examples x (B, ...), differentiable w.r.t. D's
    parameters. L_D += (γ/2) · R1; StyleGAN2 evaluates it lazily (every k steps, weight × k)."""
    x = real.detach().requires_grad_(True)
    out = discriminator(x).float().sum()
    (grad,) = torch.autograd.grad(out, x, create_graph=True)
    return grad.float().flatten(1).pow(2).sum(1).mean()  # (B, ...) -> (B, D) -> (B,) -> scalar


def path_lengths(images: Tensor, styles: Tensor, *, generator: Optional[torch.Generator] = None) -> Tensor:
    """StyleGAN2's path lengths (Karras et al. 2020, §3.2): for y ~ N(0, I) / √(H·W) per image,

        ℓ_b = √(mean_i ‖(J_wᵀ y)_{b,i}‖²),   J_wᵀ y = ∇_w (g(w) · y),

    i over the per-layer styles. images: (B, C, H, W) = g(styles), styles: (B, L, D) in the graph ->
    lengths (B,), differentiable w.r.t. g's parameters. The penalty is E[(ℓ − a)²], a a running mean of ℓ."""
    h, w = images.shape[-2:]
    dev = generator.device if generator is not None else images.device
    y = torch.randn(images.shape, generator=generator, device=dev).to(images.device) / (h * w) ** 0.5
    (grad,) = torch.autograd.grad((images.float() * y).sum(), styles, create_graph=True)
    return grad.float().pow(2).sum(2).mean(1).sqrt()  # (B, L, D) -> (B,)
