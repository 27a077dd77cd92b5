"""Padding modes for fields on bounded, periodic or mixed domains, and convolutions that use them.

Modes: 'zeros', 'reflect' (mirror without repeating the edge), 'replicate' (repeat the edge) and
'periodic' (circular wrap: the domain is a torus along that axis; 'circular' is an alias). Each axis can
have its own mode, e.g. `axis_modes=("reflect", "periodic")` for a (latitude, longitude) field that wraps
in longitude (W) but not in latitude (H).

Convolutions pad each side by (k - 1) // 2 (= k // 2 for odd k), which keeps the size at stride 1 for odd
kernels and halves even sizes at stride 2 for k = 3 or 4 — the pix2pix/CycleGAN conventions
(4x4/2 with padding 1, 3x3/1 with padding 1, 7x7/1 with padding 3).
"""
from __future__ import annotations

from typing import Sequence, Union

import torch.nn.functional as F
from torch import Tensor, nn

# our name -> torch.nn.functional.pad's name
PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "periodic": "circular"}
_ALIASES = {"circular": "periodic", "zero": "zeros"}
AxisModes = Union[str, Sequence[str]]


def check_padding_mode(mode: str) -> str:
    """The canonical name of a padding mode ('circular' -> 'periodic'); ValueError if unknown."""
    mode = _ALIASES.get(mode, mode)
    if mode not in PADDING_MODES:
        raise ValueError(f"padding mode {mode!r} is invalid; expected one of {sorted(PADDING_MODES)}")
    return mode


def resolve_axis_modes(
    padding_mode: str = "zeros", axis_modes: AxisModes | None = None, periodic_axes: Sequence[int] | None = None
) -> tuple[str, str]:
    """(mode_H, mode_W) from one mode for both axes, an explicit pair, or `periodic_axes`.

    `periodic_axes` lists tensor dims of a (B, C, H, W) input to wrap (2 or -2 for H, 3 or -1 for W);
    the other axis uses `padding_mode`. `axis_modes` and `periodic_axes` are mutually exclusive.
    """
    if axis_modes is not None and periodic_axes is not None:
        raise ValueError("give either axis_modes or periodic_axes, not both")
    if axis_modes is not None:
        pair = (axis_modes, axis_modes) if isinstance(axis_modes, str) else tuple(axis_modes)
        if len(pair) != 2:
            raise ValueError(f"axis_modes={axis_modes!r} must be one mode or a (mode_H, mode_W) pair")
        return check_padding_mode(pair[0]), check_padding_mode(pair[1])
    base = check_padding_mode(padding_mode)
    modes = [base, base]
    for axis in periodic_axes or ():
        if axis not in (2, 3, -2, -1):
            raise ValueError(f"periodic axis {axis} is invalid for (B, C, H, W); use 2/-2 (H) or 3/-1 (W)")
        modes[axis % 4 - 2] = "periodic"
    return modes[0], modes[1]


def _pad_one_axis(x: Tensor, amount: int, mode: str, dim: int) -> Tensor:
    if amount == 0:
        return x
    size = x.shape[dim]
    if mode == "reflect" and amount >= size:
        raise ValueError(f"reflect padding by {amount} needs a size > {amount} along dim {dim}, got {size}; "
                         "use 'replicate' or a shallower network")
    if mode == "periodic" and amount > size:
        raise ValueError(f"periodic padding by {amount} needs a size >= {amount} along dim {dim}, got {size}")
    sides = (0, 0, amount, amount) if dim == 2 else (amount, amount, 0, 0)  # F.pad order: (W_l, W_r, H_t, H_b)
    return F.pad(x, sides, mode=PADDING_MODES[mode])


def pad2d(x: Tensor, pad: int | tuple[int, int], mode: AxisModes = "zeros") -> Tensor:
    """Pad (B, C, H, W) -> (B, C, H + 2 p_H, W + 2 p_W) with one mode or a (mode_H, mode_W) pair.

    `pad` is one amount for both axes or (p_H, p_W). Padding along different axes commutes for every
    mode here, so corners are well defined (e.g. reflect-in-H of a W-wrapped row).
    """
    if x.dim() != 4:
        raise ValueError(f"pad2d expects a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    pad_h, pad_w = (pad, pad) if isinstance(pad, int) else pad
    mode_h, mode_w = resolve_axis_modes(axis_modes=mode)
    x = _pad_one_axis(x, pad_w, mode_w, dim=3)  # (B, C, H, W + 2 p_W)
    return _pad_one_axis(x, pad_h, mode_h, dim=2)  # (B, C, H + 2 p_H, W + 2 p_W)


def same_padding(kernel: int) -> int:
    """Padding per side, (k - 1) // 2: 'same' size for odd k at stride 1, H/2 for k in {3, 4} at stride 2."""
    return (kernel - 1) // 2


class PaddedConv2d(nn.Conv2d):
    """k x k convolution with per-axis padding modes: (B, C_in, H, W) -> (B, C_out, H', W').

    H' = floor((H + 2p - k) / stride) + 1 with p = (k - 1) // 2: H' = H for odd k at stride 1,
    H' = H / 2 for even H with k in {3, 4} at stride 2, H' = H - 1 for k = 4 at stride 1 (PatchGAN).
    With a periodic axis, a circular shift of the input along it by a multiple of `stride` shifts the
    output by (shift / stride).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, *, stride: int = 1, padding_mode: str = "zeros",
                 axis_modes: AxisModes | None = None, periodic_axes: Sequence[int] | None = None,
                 bias: bool = True):
        super().__init__(c_in, c_out, kernel, stride=stride, padding=0, bias=bias)
        self.axis_modes = resolve_axis_modes(padding_mode, axis_modes, periodic_axes)
        self.pad = same_padding(kernel)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(pad2d(x, self.pad, self.axis_modes))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, pad={self.pad}, axis_modes={self.axis_modes}"


class PaddedConvTranspose2d(nn.ConvTranspose2d):
    """Transposed convolution that upsamples exactly: (B, C_in, H, W) -> (B, C_out, s H, s W).

    The input is first extended by q pixels per side with the axis modes, then a full transposed conv
    (no implicit padding) is cropped to the s H x s W window that `nn.ConvTranspose2d(k, s, padding=p,
    output_padding=...)` would return, p = (k - s + 1) // 2 (p = 1 for 4x4/2 and 3x3/2). With 'zeros'
    this equals that layer exactly; with 'periodic' the output wraps like the input.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, *, stride: int = 2, padding_mode: str = "zeros",
                 axis_modes: AxisModes | None = None, periodic_axes: Sequence[int] | None = None,
                 bias: bool = True):
        super().__init__(c_in, c_out, kernel, stride=stride, padding=0, bias=bias)
        self.axis_modes = resolve_axis_modes(padding_mode, axis_modes, periodic_axes)
        crop = (kernel - stride + 1) // 2
        # inputs that reach outputs 0 .. sH-1: i in [-ceil((k-1-p)/s), H-1 + floor((s-1+p)/s)]
        self.pad = max(-(-(kernel - 1 - crop) // stride), (stride - 1 + crop) // stride)
        self.crop_start = stride * self.pad + crop

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        s = self.stride[0]
        y = super().forward(pad2d(x, self.pad, self.axis_modes))  # (B, C_out, s(H+2q) - s + k, ...)
        c = self.crop_start
        return y[:, :, c:c + s * h, c:c + s * w]  # (B, C_out, s H, s W)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, pad={self.pad}, axis_modes={self.axis_modes}"
