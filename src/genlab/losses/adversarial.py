"""Adversarial losses: discriminator/generator pairs as pure functions of D's outputs (DESIGN §3, §10.4).

The table of Lucic et al. 2018 ("Are GANs Created Equal?"), as shown in the lecture, plus hinge.
D outputs are *logits* l (D(x) = σ(l) for the probabilistic losses), raw critic values for WGAN/LSGAN/
hinge, or per-example autoencoder energies e(x) = ‖x − AE(x)‖₁ for BEGAN. Every function takes (B,)
tensors, computes in float32 and returns a scalar mean over the batch.

Each loss is registered in `LOSSES` as an `AdversarialLoss`; models look it up by name
(`LOSSES[cfg.loss]`) and read its declared needs (labels, penalty, clipping, energy output, k_t
balance) instead of branching on names.

Two entries of the lecture's table are read the way Lucic et al. and the original papers define them:
the LSGAN discriminator loss is E[(D(x) − 1)²] + E[D(x̂)²] (the table's leading minus is a typo), and
DRAGAN's generator uses the non-saturating loss (Kodali et al.; the table prints the minimax form).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch.nn.functional as F
from torch import Tensor

from ..registry import LOSSES
from . import regularizers


def _f(t: Tensor) -> Tensor:
    return t.float().flatten()  # (B, ...) -> (B,) float32: reductions in float32 under bf16 autocast


# --- minimax / non-saturating (Goodfellow et al. 2014) ----------------------------------------------

def d_minimax(real: Tensor, fake: Tensor, *, real_label: float = 1.0) -> Tensor:
    """L_D = −E_x[log D(x)] − E_z[log(1 − D(G(z)))],  D = σ(logit).

    With one-sided label smoothing (real_label = t < 1) the real term is the cross-entropy to t:
    −E_x[t log D(x) + (1 − t) log(1 − D(x))]. log σ(l) = −softplus(−l), log(1 − σ(l)) = −softplus(l).
    """
    r, f = _f(real), _f(fake)
    real_term = real_label * F.softplus(-r) + (1.0 - real_label) * F.softplus(r)
    return real_term.mean() + F.softplus(f).mean()


def g_minimax(fake: Tensor) -> Tensor:
    """L_G = E_z[log(1 − D(G(z)))] (G minimises it; saturates when D(G(z)) ≈ 0)."""
    return -F.softplus(_f(fake)).mean()


d_nonsaturating = d_minimax


def g_nonsaturating(fake: Tensor) -> Tensor:
    """L_G = −E_z[log D(G(z))] (G maximises log D(G(z)); strong gradients when D(G(z)) ≈ 0)."""
    return F.softplus(-_f(fake)).mean()


# --- Wasserstein (Arjovsky et al. 2017; Gulrajani et al. 2017) --------------------------------------

def d_wgan(real: Tensor, fake: Tensor) -> Tensor:
    """L_D = −E_x[D(x)] + E_z[D(G(z))]  (critic; Lipschitz by weight clipping or a gradient penalty)."""
    return -_f(real).mean() + _f(fake).mean()


def g_wgan(fake: Tensor) -> Tensor:
    """L_G = −E_z[D(G(z))]."""
    return -_f(fake).mean()


# --- least squares (Mao et al. 2017) ---------------------------------------------------------------

def d_lsgan(real: Tensor, fake: Tensor, *, real_label: float = 1.0) -> Tensor:
    """L_D = E_x[(D(x) − 1)²] + E_z[D(G(z))²]  (real target t = real_label with label smoothing)."""
    return (_f(real) - real_label).pow(2).mean() + _f(fake).pow(2).mean()


def g_lsgan(fake: Tensor) -> Tensor:
    """L_G = E_z[(D(G(z)) − 1)²]."""
    return (_f(fake) - 1.0).pow(2).mean()


# --- hinge (Lim & Ye 2017; Miyato et al. 2018) -----------------------------------------------------

def d_hinge(real: Tensor, fake: Tensor) -> Tensor:
    """L_D = E_x[max(0, 1 − D(x))] + E_z[max(0, 1 + D(G(z)))]."""
    return F.relu(1.0 - _f(real)).mean() + F.relu(1.0 + _f(fake)).mean()


g_hinge = g_wgan


# --- BEGAN (Berthelot et al. 2017) -----------------------------------------------------------------

def d_began(real: Tensor, fake: Tensor, *, k: Tensor | float) -> Tensor:
    """L_D = E_x[‖x − AE(x)‖₁] − k_t E_z[‖G(z) − AE(G(z))‖₁]   (inputs: per-example energies)."""
    return _f(real).mean() - k * _f(fake).mean()


def g_began(fake: Tensor) -> Tensor:
    """L_G = E_z[‖G(z) − AE(G(z))‖₁]."""
    return _f(fake).mean()


def began_update(k: Tensor, e_real: Tensor, e_fake: Tensor, *, gamma: float,
                 lambda_k: float) -> tuple[Tensor, Tensor]:
    """BEGAN's proportional control and convergence measure, from the batch means of the energies:

        k_{t+1} = clip(k_t + λ_k (γ L(x) − L(G(z))), 0, 1)
        M_global = L(x) + |γ L(x) − L(G(z))|
    Returns (k_{t+1}, M_global), detached.
    """
    lr, lf = _f(e_real).mean().detach(), _f(e_fake).mean().detach()
    balance = gamma * lr - lf
    return (k + lambda_k * balance).clamp(0.0, 1.0), lr + balance.abs()


# --- relativistic (Jolicoeur-Martineau 2019) -------------------------------------------------------

def d_relativistic(real: Tensor, fake: Tensor) -> Tensor:
    """RSGAN: L_D = −E_(x, z)[log σ(C(x) − C(G(z)))]  (pairs of real and fake critic values)."""
    return F.softplus(-(_f(real) - _f(fake))).mean()


def g_relativistic(fake: Tensor, real: Tensor) -> Tensor:
    """RSGAN: L_G = −E_(x, z)[log σ(C(G(z)) − C(x))]  (G also sees D's verdict on real data)."""
    return F.softplus(-(_f(fake) - _f(real))).mean()


def d_relativistic_average(real: Tensor, fake: Tensor) -> Tensor:
    """RaGAN: L_D = −E_x[log σ(C(x) − E C(G(z)))] − E_z[log(1 − σ(C(G(z)) − E C(x)))]."""
    r, f = _f(real), _f(fake)
    return F.softplus(-(r - f.mean())).mean() + F.softplus(f - r.mean()).mean()


def g_relativistic_average(fake: Tensor, real: Tensor) -> Tensor:
    """RaGAN: L_G = −E_z[log σ(C(G(z)) − E C(x))] − E_x[log(1 − σ(C(x) − E C(G(z))))]."""
    r, f = _f(real), _f(fake)
    return F.softplus(-(f - r.mean())).mean() + F.softplus(r - f.mean()).mean()


# --- the registry entries --------------------------------------------------------------------------

@dataclass(frozen=True)
class AdversarialLoss:
    """A registered D/G pair and what it needs from the model.

    d(real, fake[, real_label=][, k=]) and g(fake) — or g(fake, real) when `g_needs_real` (relativistic
    losses) — scalar losses from D's per-example outputs.
    labels: d accepts `real_label` (one-sided label smoothing makes sense).
    penalty: regularizer(discriminator, real, fake, generator=) -> scalar, added as λ·penalty to L_D.
    clip: WGAN weight clipping: D's weights are projected to [−clip, clip] before every D update.
    energy: D is an autoencoder returning per-example L1 reconstruction energies (BEGAN).
    balance: d takes the BEGAN equilibrium weight k_t (updated by `began_update` after each D step).
    n_critic: recommended D steps per G step when the model config leaves n_critic at 0 (= auto).
    """

    d: Callable[..., Tensor]
    g: Callable[[Tensor], Tensor]
    labels: bool = False
    penalty: Optional[Callable[..., Tensor]] = None
    clip: float = 0.0
    energy: bool = False
    balance: bool = False
    n_critic: int = 1
    g_needs_real: bool = False


LOSSES.register("minimax", AdversarialLoss(d_minimax, g_minimax, labels=True),
                help="MM GAN: G minimises E log(1 - D(G(z))) (saturates early in training)")
LOSSES.register("nonsaturating", AdversarialLoss(d_nonsaturating, g_nonsaturating, labels=True),
                help="NS GAN: G maximises E log D(G(z))")
LOSSES.register("wgan", AdversarialLoss(d_wgan, g_wgan, clip=0.01, n_critic=5),
                help="WGAN critic, weights clipped to [-0.01, 0.01], 5 critic steps per G step")
LOSSES.register("wgan-gp", AdversarialLoss(d_wgan, g_wgan, penalty=regularizers.wgan_gp, n_critic=5),
                help="WGAN + gradient penalty (||grad D|| - 1)^2 on random interpolates, lambda 10")
LOSSES.register("lsgan", AdversarialLoss(d_lsgan, g_lsgan, labels=True),
                help="least squares GAN: D regresses 1 (real) / 0 (fake), G pushes D(G(z)) to 1")
LOSSES.register("dragan", AdversarialLoss(d_nonsaturating, g_nonsaturating, labels=True,
                                          penalty=regularizers.dragan),
                help="NS GAN + gradient penalty around perturbed real data, lambda 10")
LOSSES.register("began", AdversarialLoss(d_began, g_began, energy=True, balance=True),
                help="BEGAN: autoencoder D, L1 energies, k_t proportional control, M_global logged")
LOSSES.register("hinge", AdversarialLoss(d_hinge, g_hinge),
                help="hinge loss: D max(0, 1 -+ D), G -E D(G(z)) (SAGAN/BigGAN default)")
LOSSES.register("relativistic", AdversarialLoss(d_relativistic, g_relativistic, g_needs_real=True),
                help="RSGAN: D judges whether real data are more realistic than fakes; G sees both")
LOSSES.register("relativistic-average", AdversarialLoss(d_relativistic_average, g_relativistic_average,
                                                        g_needs_real=True),
                help="RaGAN: each sample judged against the mean critic value of the other kind")
