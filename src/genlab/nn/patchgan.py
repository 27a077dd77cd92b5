"""PatchGAN discriminator of pix2pix (Isola et al. 2017): a fully convolutional net whose every output
logit judges one N x N patch of the input; the loss averages over patches.

`n_layers` sets N (the receptive field): 0 -> 1 (PixelGAN, 1x1 convs), 1 -> 16, 2 -> 34, 3 -> 70 (the
pix2pix default), 4 -> 142, 5 -> 286 (the paper's "ImageGAN" on 256x256). Layout for n_layers >= 1:

    conv 4x4/2 (base), LeakyReLU(0.2)                       no norm on the input layer
    (n_layers - 1) x [conv 4x4/2, norm, LeakyReLU(0.2)]     channels base * min(2^n, 8)
    conv 4x4/1, norm, LeakyReLU(0.2)                        channels base * min(2^n_layers, 8)
    conv 4x4/1 -> 1 logit per patch

A "full-image" discriminator is one whose receptive field covers the whole image:
`patchgan_for_receptive_field("full", image_size=S)` picks the smallest n_layers with N >= S. Averaging
the logits of a smaller PatchGAN is *not* global: each logit still sees only its own patch.
"""
from __future__ import annotations

from typing import Sequence, Union

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as add_spectral_norm

from .norms import conv_bias, make_norm
from .padding import AxisModes, PaddedConv2d, resolve_axis_modes, same_padding

ConvSpec = Union[tuple[int, int], tuple[int, int, int]]  # (kernel, stride) or (kernel, stride, dilation)
MAX_WIDTH_FACTOR = 8  # channels stop doubling at base * 8 (512 for base 64)


def patchgan_conv_specs(n_layers: int) -> list[tuple[int, int]]:
    """(kernel, stride) of each conv of a PatchDiscriminator, input to output."""
    if n_layers == 0:
        return [(1, 1), (1, 1), (1, 1)]
    return [(4, 2)] * n_layers + [(4, 1), (4, 1)]


def _patchgan_widths(n_layers: int, base: int) -> list[int]:
    """Output channels of each conv: [base, 2 base, 1] for the PixelGAN, else doubling up to base * 8."""
    if n_layers == 0:
        return [base, 2 * base, 1]
    return [base * min(2 ** i, MAX_WIDTH_FACTOR) for i in range(n_layers + 1)] + [1]


def _specs_of_module(module: nn.Module) -> list[tuple[int, int, int]]:
    specs = []
    for layer in module.modules():
        if isinstance(layer, nn.ConvTranspose2d):
            raise ValueError("receptive_field handles conv/pool chains only, not transposed convs")
        if isinstance(layer, nn.Conv2d):
            k, s, d = layer.kernel_size, layer.stride, layer.dilation
        elif isinstance(layer, (nn.AvgPool2d, nn.MaxPool2d)):
            k, s, d = layer.kernel_size, layer.stride, 1
        else:
            continue
        pairs = [v if isinstance(v, tuple) else (v, v) for v in (k, s, d)]
        if any(a != b for a, b in pairs):
            raise ValueError(f"receptive_field needs square kernels and strides, got {layer}")
        specs.append(tuple(p[0] for p in pairs))
    return specs


def receptive_field(module_or_specs: nn.Module | Sequence[ConvSpec]) -> int:
    """Side N of the square input window one output unit depends on, for a chain of convs/pools.

    N = 1 + sum_l (k_l - 1) d_l prod_{m<l} s_m (k: kernel, s: stride, d: dilation), from a module (its
    Conv2d/pool layers in registration order, which must be the order they are applied in) or a list of
    (kernel, stride[, dilation]) tuples. E.g. the 70x70 PatchGAN: [(4,2)]*3 + [(4,1)]*2 -> 70.
    """
    specs = _specs_of_module(module_or_specs) if isinstance(module_or_specs, nn.Module) else module_or_specs
    field, jump = 1, 1
    for spec in specs:
        kernel, stride, dilation = (tuple(spec) + (1,))[:3]
        field += (kernel - 1) * dilation * jump
        jump *= stride
    return field


def patchgan_for_receptive_field(rf: int | str, *, image_size: int | None = None, max_layers: int = 8) -> int:
    """n_layers of the PatchDiscriminator with receptive field `rf` (1 -> 0, 16 -> 1, 34 -> 2, 70 -> 3).

    rf="full" returns the smallest n_layers whose field covers an `image_size`-pixel image.
    """
    fields = {receptive_field(patchgan_conv_specs(n)): n for n in range(max_layers + 1)}
    if rf == "full":
        if image_size is None or image_size < 1:
            raise ValueError("rf='full' needs image_size, the side of the images to discriminate")
        return next((n for f, n in fields.items() if f >= image_size), max_layers)
    if rf not in fields:
        raise ValueError(f"no PatchGAN has receptive field {rf!r}; expected one of {sorted(fields)} or 'full'")
    return fields[rf]


class PatchDiscriminator(nn.Module):
    """PatchGAN: (B, in_channels, H, W) -> (B, 1, h, w) logits, one per receptive-field patch.

    For n_layers >= 1, h = H // 2^n_layers - 2 (30x30 logits for a 256x256 input at n_layers = 3);
    for n_layers = 0, h = H. In pix2pix the input is cat(condition, image) (in_channels = 6 for RGB
    pairs), base = 64, norm = 'batch'. `spectral_norm` wraps every conv (Miyato et al. 2018); use it
    with norm='none'.
    """

    def __init__(self, in_channels: int, *, base: int = 64, n_layers: int = 3, norm: str = "batch",
                 spectral_norm: bool = False, padding_mode: str = "zeros",
                 axis_modes: AxisModes | None = None, periodic_axes: Sequence[int] | None = None):
        super().__init__()
        if n_layers < 0:
            raise ValueError(f"n_layers={n_layers} is invalid; expected >= 0 (0 = 1x1 PixelGAN)")
        self.n_layers = n_layers
        modes = resolve_axis_modes(padding_mode, axis_modes, periodic_axes)
        specs = patchgan_conv_specs(n_layers)
        widths = _patchgan_widths(n_layers, base)
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, ((kernel, stride), c_out) in enumerate(zip(specs, widths)):
            first, last = i == 0, i == len(specs) - 1
            conv = PaddedConv2d(c_in, c_out, kernel, stride=stride, axis_modes=modes,
                                bias=first or last or conv_bias(norm))
            layers.append(add_spectral_norm(conv) if spectral_norm else conv)
            if not last:
                layers += [] if first else [make_norm(norm, c_out)]
                layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        self.net = nn.Sequential(*layers)

    def logit_grid(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) of the logit map for an H x W input: floor((n + 2p - k) / s) + 1 per conv."""
        sizes = [height, width]
        for kernel, stride in patchgan_conv_specs(self.n_layers):
            sizes = [(n + 2 * same_padding(kernel) - kernel) // stride + 1 for n in sizes]
        return sizes[0], sizes[1]

    def forward(self, x: Tensor) -> Tensor:
        h, w = self.logit_grid(x.shape[-2], x.shape[-1])
        if h < 1 or w < 1:
            raise ValueError(f"PatchDiscriminator(n_layers={self.n_layers}) needs a larger input than "
                             f"{x.shape[-2]}x{x.shape[-1]}; use at least {2 ** self.n_layers * 3} px "
                             "or fewer layers")
        return self.net(x)  # (B, 1, h, w)
