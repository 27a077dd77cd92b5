"""Exponential moving average of chosen networks' parameters (buffers are copied, not averaged).

    θ_ema ← β θ_ema + (1 − β) θ      after every optimisation step.
"""
from __future__ import annotations

import torch
from torch import nn


class EMA:
    def __init__(self, networks: dict[str, nn.Module], decay: float):
        self.decay = decay
        self.networks = networks
        self.shadow = {name: {k: v.detach().clone() for k, v in net.state_dict().items()}
                       for name, net in networks.items()}
        self._pairs = [(self.shadow[n][k], p) for n, net in networks.items()
                       for k, p in net.named_parameters()]

    @torch.no_grad()
    def update(self) -> None:
        if self._pairs:
            shadows, params = zip(*self._pairs)
            torch._foreach_lerp_(list(shadows), [p.detach() for p in params], 1.0 - self.decay)
        for name, net in self.networks.items():
            for k, b in net.named_buffers():
                self.shadow[name][k].copy_(b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Flat {"<network>.<key>": tensor}, matching the model's own state_dict keys."""
        return {f"{n}.{k}": v for n, sd in self.shadow.items() for k, v in sd.items()}

    def load_state_dict(self, flat: dict[str, torch.Tensor]) -> None:
        for n, sd in self.shadow.items():
            for k, v in sd.items():
                v.copy_(flat[f"{n}.{k}"])
