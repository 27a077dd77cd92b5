"""Exponential moving average of chosen networks' parameters (buffers are copied, not averaged).

    θ_ema ← β_t θ_ema + (1 − β_t) θ,   β_t = min(β, (1 + t) / (10 + t)),

after optimisation step t = 0, 1, 2, ... The warm-up β_t keeps early averages from being dominated by
the random initial weights (with β = 0.999 a plain EMA still holds ~45% of the initialisation after
800 steps, which made short runs' EMA samples look like noise).
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

    def decay_at(self, t: int) -> float:
        return min(self.decay, (1.0 + t) / (10.0 + t))

    @torch.no_grad()
    def update(self, t: int) -> None:
        """Average in the current weights after optimisation step t (0-based)."""
        if self._pairs:
            shadows, params = zip(*self._pairs)
            torch._foreach_lerp_(list(shadows), [p.detach() for p in params], 1.0 - self.decay_at(t))
        for name, net in self.networks.items():  # looked up each time: module.to() replaces buffer tensors
            shadow = self.shadow[name]
            for k, b in net.named_buffers():
                if k in shadow:  # saved buffers only; a non-persistent one (a layout marker) has no entry
                    shadow[k].copy_(b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Flat {"<network>.<key>": tensor}, matching the model's own state_dict keys."""
        return {f"{n}.{k}": v for n, sd in self.shadow.items() for k, v in sd.items()}

    def load_state_dict(self, flat: dict[str, torch.Tensor]) -> None:
        for n, sd in self.shadow.items():
            for k, v in sd.items():
                v.copy_(flat[f"{n}.{k}"])
