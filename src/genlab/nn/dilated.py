"""WaveNet's dilated causal convolutions with gated units, residual and skip paths, and queue-based
generation (van den Oord et al. 2016, WaveNet; Paine et al. 2016, Fast WaveNet generation).

Layer l with dilation d_l (kernel size 2), on the layer input x (B, C, T):

    a, b = split(W_l * x)         W_l * x at t = W_l[0] x_{t−d_l} + W_l[1] x_t + c   (x_{<0} = 0: causal)
    z    = tanh(a) ⊙ σ(b)         (gated activation unit)
    x'   = x + R_l z,  s_l = S_l z  (1×1 residual and skip convolutions)

Output: ReLU(Σ_l s_l) → 1×1 → ReLU (features; the model's head maps them to its distribution). Dilations
1, 2, …, 2^(L−1), repeated `stacks` times; receptive field 1 + stacks · (2^L − 1) positions.

Generation: each layer keeps a queue of its last d_l inputs (a circular buffer (B, C, d_l)); at step t the
entry read is x_{t−d_l} and is then replaced by x_t, so a step costs one matrix product per layer instead of a
convolution over the whole receptive field, and gives the outputs of the full causal pass (tested).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class WaveNetLayer(nn.Module):
    def __init__(self, channels: int, skip: int, dilation: int):
        super().__init__()
        self.dilation = dilation
        self.conv = nn.Conv1d(channels, 2 * channels, kernel_size=2, dilation=dilation)
        self.res = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, skip, 1)

    def _gate(self, y: Tensor) -> Tensor:
        a, b = y.chunk(2, dim=1)
        return torch.tanh(a) * torch.sigmoid(b)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, C, T) -> (residual output (B, C, T), skip (B, S, T)); causal."""
        z = self._gate(self.conv(F.pad(x, (self.dilation, 0))))  # left padding only: (B, 2C, T) -> (B, C, T)
        return x + self.res(z), self.skip(z)

    def step(self, x: Tensor, past: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, C) at time t, past (B, C) = this layer's input at t − d -> (x' (B, C), s (B, S))."""
        w, c = self.conv.weight, self.conv.bias  # (2C, C, 2), (2C,)
        y = past @ w[:, :, 0].t() + x @ w[:, :, 1].t() + c  # (B, 2C)
        a, b = y.chunk(2, dim=1)
        z = torch.tanh(a) * torch.sigmoid(b)  # (B, C)
        res = z @ self.res.weight[:, :, 0].t() + self.res.bias
        return x + res, z @ self.skip.weight[:, :, 0].t() + self.skip.bias


class WaveNet(nn.Module):
    """(B, T, d_in) -> (B, T, skip) causal features; `step` generates with per-layer queues."""

    def __init__(self, d_in: int, channels: int, skip: int, layers: int, stacks: int = 1):
        super().__init__()
        self.inp = nn.Conv1d(d_in, channels, 1)
        self.layers = nn.ModuleList([WaveNetLayer(channels, skip, 2 ** i) for _ in range(stacks)
                                     for i in range(layers)])
        self.out = nn.Conv1d(skip, skip, 1)
        self.channels = channels

    @property
    def receptive_field(self) -> int:
        return 1 + sum(layer.dilation for layer in self.layers)

    def forward(self, h: Tensor) -> Tensor:
        x = self.inp(h.transpose(1, 2))  # (B, d_in, T) -> (B, C, T)
        total = 0
        for layer in self.layers:
            x, s = layer(x)
            total = total + s
        return torch.relu(self.out(torch.relu(total))).transpose(1, 2)  # (B, T, S)

    def new_state(self, batch: int, *, device=None, dtype=torch.float32) -> dict:
        """Empty queues (zeros = the causal padding before t = 0) and the step counter."""
        return {"t": 0, "queues": [torch.zeros(batch, self.channels, layer.dilation, device=device, dtype=dtype)
                                   for layer in self.layers]}

    def step(self, h: Tensor, state: dict) -> Tensor:
        """h (B, 1, d_in) at time state['t'] -> features (B, 1, S); updates the queues."""
        t = state["t"]
        x = h[:, 0] @ self.inp.weight[:, :, 0].t() + self.inp.bias  # (B, C)
        total = 0
        for layer, queue in zip(self.layers, state["queues"]):
            slot = t % layer.dilation
            past = queue[:, :, slot].clone()  # this layer's input at t − d
            queue[:, :, slot] = x
            x, s = layer.step(x, past)
            total = total + s
        state["t"] = t + 1
        y = torch.relu(total) @ self.out.weight[:, :, 0].t() + self.out.bias
        return torch.relu(y)[:, None]  # (B, 1, S)
