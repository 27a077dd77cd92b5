"""Optimisers by name (`--train.optimizer=rmsprop`): each entry builds a torch optimiser for one group.

    adam     Kingma & Ba 2015, betas = train.betas (AdamW's decoupled decay when train.weight_decay > 0,
             the behaviour genlab always had)
    adamw    Loshchilov & Hutter 2019, decoupled weight decay train.weight_decay
    rmsprop  Tieleman & Hinton 2012, the optimiser of the WGAN paper (Arjovsky et al. 2017: lr 5e-5,
             no momentum); alpha = train.betas[1]
    sgd      plain SGD with momentum train.betas[0] (0 = none)

fused: one kernel for all parameters (CPU and CUDA); 4.5x cheaper than foreach for a flow's ~100 small
tensors on this CPU (0.43 vs 1.94 ms per step). Same update rule.
"""
from __future__ import annotations

import torch
from torch import nn

from ..registry import OPTIMIZERS


def _fast(params: list[nn.Parameter], device: torch.device, *, fused_ok: bool = True) -> dict:
    if fused_ok and device.type in ("cpu", "cuda") and all(p.is_floating_point() for p in params):
        return {"fused": True}
    return {"foreach": True}


@OPTIMIZERS.register("adam", help="Adam (AdamW when train.weight_decay > 0)")
def adam(params, *, lr, betas, weight_decay, device):
    cls = torch.optim.AdamW if weight_decay else torch.optim.Adam
    return cls(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay, **_fast(params, device))


@OPTIMIZERS.register("adamw", help="AdamW, decoupled weight decay train.weight_decay")
def adamw(params, *, lr, betas, weight_decay, device):
    return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay,
                             **_fast(params, device))


@OPTIMIZERS.register("rmsprop", help="RMSprop (the WGAN paper's), alpha = train.betas[1]")
def rmsprop(params, *, lr, betas, weight_decay, device):
    return torch.optim.RMSprop(params, lr=lr, alpha=betas[1], weight_decay=weight_decay,
                               **_fast(params, device, fused_ok=False))


@OPTIMIZERS.register("sgd", help="SGD with momentum train.betas[0]")
def sgd(params, *, lr, betas, weight_decay, device):
    return torch.optim.SGD(params, lr=lr, momentum=betas[0], weight_decay=weight_decay,
                           **_fast(params, device, fused_ok=False))


def build(name: str, params: list[nn.Parameter], *, lr: float, betas, weight_decay: float,
          device: torch.device) -> torch.optim.Optimizer:
    return OPTIMIZERS[name](params, lr=lr, betas=betas, weight_decay=weight_decay, device=device)
