"""Encoder/decoder networks shared by the autoencoder family, chosen by `arch`.

arch = "conv" (images only), "mlp" (anything, flattened), or "auto" (conv for square images whose side is
at least 8, MLP otherwise).
"""
from __future__ import annotations

from torch import nn

from ...errors import GenlabError
from ...nn import MLP, ConvDecoder, ConvEncoder
from ..base import DataInfo


def resolve_arch(arch: str, data: DataInfo) -> str:
    if arch not in ("auto", "conv", "mlp"):
        raise ValueError(f"model.arch={arch!r} is invalid; expected auto, conv or mlp")
    square = data.is_image and data.shape[1] == data.shape[2]
    if arch == "auto":
        return "conv" if square and data.shape[1] >= 8 else "mlp"
    if arch == "conv" and not square:
        raise GenlabError(f"model.arch=conv needs square images, got data of shape {data.shape}; "
                          "use model.arch=mlp")
    return arch


def encoder(arch: str, data: DataInfo, out_dim: int, *, hidden: int, depth: int, channels: int) -> nn.Module:
    if arch == "conv":
        return ConvEncoder(data.shape[0], data.shape[1], out_dim, base=channels)
    return MLP(data.dims, out_dim, hidden=hidden, depth=depth)


class _Unflatten(nn.Module):
    def __init__(self, net: nn.Module, shape: tuple[int, ...]):
        super().__init__()
        self.net, self.shape = net, shape

    def forward(self, z):
        return self.net(z).view(-1, *self.shape)  # (B, prod(shape)) -> (B, *shape)


def decoder(arch: str, data: DataInfo, in_dim: int, heads: int, *, hidden: int, depth: int,
            channels: int) -> nn.Module:
    """Outputs (B, heads*C, H, W) for images or (B, heads*D) for vectors (heads: parameters per dim)."""
    if arch == "conv":
        return ConvDecoder(in_dim, heads * data.shape[0], data.shape[1], base=channels)
    shape = (heads * data.shape[0], *data.shape[1:])
    return _Unflatten(MLP(in_dim, heads * data.dims, hidden=hidden, depth=depth), shape)
