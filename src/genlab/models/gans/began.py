"""BEGAN's discriminator and equilibrium controller (Berthelot et al. 2017).

D is an autoencoder; its output is the per-example L1 reconstruction energy e(x) = mean |x − AE(x)|.
The losses are in genlab.losses.adversarial (d_began, g_began); the proportional control of k_t,

    k_{t+1} = clip(k_t + λ_k (γ L(x) − L(G(z))), 0, 1),   M_global = L(x) + |γ L(x) − L(G(z))|,

is `EquilibriumControl`, a module whose buffer k is saved in checkpoints with the model (so resumed
runs continue the same control). Any adversarial model uses these when its loss declares
`energy=True` / `balance=True` (`--model.loss=began`).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ...losses.adversarial import began_update
from ...nn import MLP, ConvDecoder, ConvEncoder


class AutoencoderDiscriminator(nn.Module):
    """x (B, ...) -> per-example energy (B,): the mean absolute reconstruction error of encoder/decoder."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x)).view(x.shape)  # (B, D) -> (B, ...) as x

    def forward(self, x: Tensor) -> Tensor:
        err = (x - self.reconstruct(x)).abs().float()
        return err.flatten(1).mean(1)  # (B, ...) -> (B,)


def mlp_autoencoder(dims: int, *, code: int, hidden: int, depth: int) -> AutoencoderDiscriminator:
    """Fully connected autoencoder on flattened vectors (toys, small vectors), ELU activations."""
    return AutoencoderDiscriminator(MLP(dims, code, hidden, depth, act=nn.ELU),
                                    MLP(code, dims, hidden, depth, act=nn.ELU))


def conv_autoencoder(channels: int, size: int, *, code: int, base: int) -> AutoencoderDiscriminator:
    """Convolutional autoencoder (stride-2 stages down to 7/4 px and a linear code), ELU activations
    as in BEGAN."""
    return AutoencoderDiscriminator(ConvEncoder(channels, size, code, base=base, act=nn.ELU),
                                    ConvDecoder(code, channels, size, base=base, act=nn.ELU))


class EquilibriumControl(nn.Module):
    """Holds k_t (a buffer, starts at 0) and applies BEGAN's proportional update after each D step."""

    def __init__(self, *, gamma: float, lambda_k: float):
        super().__init__()
        self.gamma, self.lambda_k = gamma, lambda_k
        self.register_buffer("k", torch.zeros(()))

    @torch.no_grad()
    def update(self, e_real: Tensor, e_fake: Tensor) -> dict[str, Tensor]:
        """k ← clip(k + λ_k (γ L(x) − L(G(z))), 0, 1); returns {"k": k_t used, "m_global": M_global}."""
        used = self.k.clone()
        k_next, m_global = began_update(self.k, e_real, e_fake, gamma=self.gamma, lambda_k=self.lambda_k)
        self.k.copy_(k_next)
        return {"k": used, "m_global": m_global}
