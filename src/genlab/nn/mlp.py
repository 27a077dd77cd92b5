"""Multi-layer perceptron on flattened inputs."""
from __future__ import annotations

from torch import Tensor, nn


class MLP(nn.Module):
    """in_dim -> [hidden]*depth -> out_dim with `act` between layers; flattens (B, ...) inputs."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 256, depth: int = 2,
                 act: type[nn.Module] = nn.SiLU):
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), act()]
            d = hidden
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))  # (B, in_dim) -> (B, out_dim)
