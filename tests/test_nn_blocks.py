"""Building blocks in genlab.nn: padding modes, U-Net, ResNet generator, PatchGAN (tiny widths, CPU)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genlab.nn import (PaddedConv2d, PaddedConvTranspose2d, PatchDiscriminator, ResnetBlock, ResnetGenerator,
                       UNet, make_norm, pad2d, patchgan_conv_specs, patchgan_for_receptive_field, receptive_field,
                       resolve_axis_modes)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one intra-op thread avoids OpenMP spin-waiting on a busy shared CPU (50x faster)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _randn(*shape: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---- padding
@pytest.mark.parametrize("kernel", [3, 5])
def test_periodic_conv_equals_valid_conv_on_tiled_input(kernel):
    torch.manual_seed(0)
    conv = PaddedConv2d(2, 3, kernel, padding_mode="periodic")
    x = _randn(1, 2, 7, 10)  # odd and non-square
    p, (h, w) = kernel // 2, x.shape[-2:]
    tiled = x.repeat(1, 1, 3, 3)  # (1, 2, 3H, 3W)
    reference = F.conv2d(tiled, conv.weight, conv.bias)[:, :, h - p:2 * h - p, w - p:2 * w - p]  # (1, 3, H, W)
    torch.testing.assert_close(conv(x), reference)


def test_mixed_axis_modes_equal_zero_pad_in_h_and_tiling_in_w():
    torch.manual_seed(0)
    conv = PaddedConv2d(2, 3, 3, axis_modes=("zeros", "periodic"))
    x = _randn(1, 2, 6, 9)
    w = x.shape[-1]
    tiled = F.pad(x.repeat(1, 1, 1, 3), (0, 0, 1, 1))  # (1, 2, H + 2, 3W): zeros above and below
    reference = F.conv2d(tiled, conv.weight, conv.bias)[:, :, :, w - 1:2 * w - 1]
    torch.testing.assert_close(conv(x), reference)


@pytest.mark.parametrize("kernel,stride,shift", [(3, 1, 3), (5, 1, -4), (4, 2, 2), (3, 2, 4)])
def test_periodic_axis_is_shift_equivariant(kernel, stride, shift):
    torch.manual_seed(0)
    conv = PaddedConv2d(2, 3, kernel, stride=stride, axis_modes=("reflect", "periodic"))
    x = _randn(2, 2, 8, 12)
    shifted_out = conv(torch.roll(x, shift, dims=-1))
    torch.testing.assert_close(shifted_out, torch.roll(conv(x), shift // stride, dims=-1))


def test_reflect_and_replicate_agree_with_functional_pad():
    x = _randn(2, 3, 5, 8)
    for mode in ("reflect", "replicate"):
        torch.testing.assert_close(pad2d(x, 2, mode), F.pad(x, (2, 2, 2, 2), mode=mode))
    torch.testing.assert_close(pad2d(x, (1, 3), "reflect"), F.pad(x, (3, 3, 1, 1), mode="reflect"))
    torch.manual_seed(0)
    conv = PaddedConv2d(3, 4, 3, padding_mode="reflect")
    torch.testing.assert_close(conv(x), F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), conv.weight, conv.bias))


def test_zeros_mode_equals_torch_conv_and_sizes():
    torch.manual_seed(0)
    x = _randn(1, 2, 10, 14)
    for kernel, stride, size in [(3, 1, (10, 14)), (7, 1, (10, 14)), (4, 2, (5, 7)), (3, 2, (5, 7)), (4, 1, (9, 13))]:
        conv = PaddedConv2d(2, 3, kernel, stride=stride)
        reference = F.conv2d(x, conv.weight, conv.bias, stride=stride, padding=(kernel - 1) // 2)
        torch.testing.assert_close(conv(x), reference)
        assert conv(x).shape[-2:] == size


@pytest.mark.parametrize("kernel,output_padding", [(4, 0), (3, 1)])
def test_transposed_conv_with_zeros_equals_torch_layer(kernel, output_padding):
    torch.manual_seed(0)
    ours = PaddedConvTranspose2d(3, 2, kernel, stride=2)
    theirs = nn.ConvTranspose2d(3, 2, kernel, stride=2, padding=1, output_padding=output_padding)
    theirs.load_state_dict(ours.state_dict())
    x = _randn(2, 3, 5, 7)
    assert ours(x).shape == (2, 2, 10, 14)
    torch.testing.assert_close(ours(x), theirs(x))


def test_periodic_transposed_conv_is_shift_equivariant():
    torch.manual_seed(0)
    up = PaddedConvTranspose2d(2, 2, 4, stride=2, padding_mode="periodic")
    x = _randn(1, 2, 4, 6)
    torch.testing.assert_close(up(torch.roll(x, (1, -2), dims=(-2, -1))), torch.roll(up(x), (2, -4), dims=(-2, -1)))


def test_padding_mode_validation():
    assert resolve_axis_modes("reflect", periodic_axes=(-1,)) == ("reflect", "periodic")
    assert resolve_axis_modes(axis_modes="circular") == ("periodic", "periodic")
    with pytest.raises(ValueError, match="'mirror'"):
        PaddedConv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="not both"):
        resolve_axis_modes(axis_modes=("zeros", "zeros"), periodic_axes=(2,))
    with pytest.raises(ValueError, match="reflect padding"):
        pad2d(torch.zeros(1, 1, 1, 4), 1, "reflect")


# ---- U-Net
@pytest.mark.parametrize("down,up", [("stride", "transpose"), ("pool", "upsample")])
@pytest.mark.parametrize("depth,size", [(1, (4, 6)), (3, (16, 16)), (4, (32, 48))])
def test_unet_output_shapes(down, up, depth, size):
    net = UNet(3, 2, base=4, depth=depth, max_channels=8, down=down, up=up)
    y = net(_randn(2, 3, *size))
    assert y.shape == (2, 2, *size)
    assert y.abs().max() <= 1  # tanh


def test_unet_refuses_sizes_not_divisible_by_two_to_the_depth():
    net = UNet(1, 1, base=4, depth=3)
    with pytest.raises(ValueError, match=r"divisible by 8, got 20x16.*24x16"):
        net(torch.zeros(1, 1, 20, 16))


def _zero_output(module, inputs, output):
    return torch.zeros_like(output)


def _zero_skip_half(module, inputs):
    (h,) = inputs
    c = h.shape[1] // 2
    return torch.cat([h[:, :c], torch.zeros_like(h[:, c:])], dim=1)  # (B, 2C, h, w): skip half zeroed


@pytest.mark.parametrize("level", [0, 1, 2])
def test_unet_each_skip_connection_carries_the_input(level):
    """Cut every path but the skip at `level` (deeper encoder outputs and shallower skips zeroed):
    the output must still depend on the input, and on a local region near where it changed."""
    torch.manual_seed(0)
    depth = 4
    net = UNet(1, 1, base=4, depth=depth, norm="none", out_activation="none").eval()
    for i in range(level + 1, depth):
        net.encoder[i].register_forward_hook(_zero_output)
    for i in range(level):
        net.decoder[i].register_forward_pre_hook(_zero_skip_half)
    x = _randn(1, 1, 32, 32)
    x_changed = x.clone()
    x_changed[..., :4, :4] += 1.0  # top-left corner only
    diff = (net(x_changed) - net(x)).abs()
    assert diff[..., :8, :8].sum() > 0
    assert diff[..., 24:, 24:].sum() == 0  # the far corner is outside the shallow path's reach
    net.encoder[0].register_forward_hook(_zero_output)  # now every path is cut: no dependence at all
    torch.testing.assert_close(net(x_changed), net(x))


@pytest.mark.parametrize("depth,n_dropout", [(2, 1), (5, 3)])
def test_unet_dropout_in_innermost_decoder_blocks_and_train_mode_only(depth, n_dropout):
    net = UNet(2, 2, base=4, depth=depth, max_channels=8, norm="instance", dropout=0.5)
    dropouts = [i for i, block in enumerate(net.decoder) if any(isinstance(m, nn.Dropout) for m in block)]
    assert dropouts == list(range(depth - n_dropout, depth))
    x = _randn(2, 2, 2 ** depth, 2 ** depth)
    net.train()
    assert not torch.equal(net(x), net(x))
    net.eval()
    torch.testing.assert_close(net(x), net(x))
    assert not any(isinstance(m, nn.Dropout) for m in UNet(2, 2, base=4, depth=depth).modules())


@pytest.mark.parametrize("up", ["transpose", "upsample"])
def test_unet_periodic_in_w_is_shift_equivariant(up):
    torch.manual_seed(0)
    net = UNet(1, 1, base=4, depth=3, norm="none", axis_modes=("reflect", "periodic"), up=up).eval()
    x = _randn(1, 1, 16, 24)
    torch.testing.assert_close(net(torch.roll(x, 8, dims=-1)), torch.roll(net(x), 8, dims=-1))


# ---- ResNet generator
@pytest.mark.parametrize("size", [(16, 16), (12, 20)])
def test_resnet_generator_preserves_size(size):
    net = ResnetGenerator(3, 1, base=4, n_blocks=2)
    assert net(_randn(2, 3, *size)).shape == (2, 1, *size)
    assert ResnetBlock(8, norm="batch")(_randn(2, 8, *size)).shape == (2, 8, *size)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.zeros(1, 3, 14, 16))


def test_resnet_generator_periodic_is_shift_equivariant():
    torch.manual_seed(0)
    net = ResnetGenerator(1, 1, base=4, n_blocks=1, padding_mode="periodic").eval()
    x = _randn(1, 1, 12, 16)
    torch.testing.assert_close(net(torch.roll(x, (4, -8), dims=(-2, -1))), torch.roll(net(x), (4, -8), dims=(-2, -1)))


def test_resnet_block_is_residual():
    block = ResnetBlock(4, norm="none")
    nn.init.zeros_(block.residual[-2].weight)  # the last conv (the final op is the identity norm)
    nn.init.zeros_(block.residual[-2].bias)
    x = _randn(1, 4, 6, 6)
    torch.testing.assert_close(block(x), x)


# ---- PatchGAN
def test_receptive_field_from_specs_and_modules():
    assert [receptive_field(patchgan_conv_specs(n)) for n in range(6)] == [1, 16, 34, 70, 142, 286]
    for n in (0, 1, 3):
        assert receptive_field(PatchDiscriminator(3, base=4, n_layers=n)) == receptive_field(patchgan_conv_specs(n))
    assert receptive_field([(3, 1, 2), (3, 1)]) == 7  # dilation 2 then plain 3x3


@pytest.mark.parametrize("n_layers,size,rf", [(0, 8, 1), (1, 32, 16), (3, 96, 70)])
def test_patch_logit_gradient_is_nonzero_exactly_on_its_receptive_field(n_layers, size, rf):
    torch.manual_seed(0)
    disc = PatchDiscriminator(1, base=4, n_layers=n_layers, norm="none").double()
    x = _randn(1, 1, size, size, dtype=torch.float64).requires_grad_(True)
    logits = disc(x)  # (1, 1, h, w)
    h, w = logits.shape[-2:]
    logits[0, 0, h // 2, w // 2].backward()
    rows, cols = (x.grad[0, 0] != 0).nonzero(as_tuple=True)
    assert rows.max() - rows.min() + 1 == rf and cols.max() - cols.min() + 1 == rf
    assert rows.numel() == rf * rf  # every pixel of the window, and nothing outside it
    assert rows.min() > 0 and rows.max() < size - 1  # the window lies inside the image (not clipped)


def test_pix2pix_70x70_patchgan_parameter_count():
    disc = PatchDiscriminator(6, base=64, n_layers=3, norm="batch")
    count = sum(p.numel() for p in disc.parameters())
    by_hand = (6 * 64 * 16 + 64) + (64 * 128 * 16 + 2 * 128) + (128 * 256 * 16 + 2 * 256) \
        + (256 * 512 * 16 + 2 * 512) + (512 * 16 + 1)  # convs (bias only without a norm) + BN γ, β
    assert count == by_hand == 2_768_705
    assert abs(count - 2.77e6) / 2.77e6 < 0.01


def test_patchgan_logit_grid_shapes():
    disc = PatchDiscriminator(3, base=4, n_layers=3)
    assert disc(torch.zeros(2, 3, 256, 256)).shape == (2, 1, 30, 30)
    assert disc(torch.zeros(1, 3, 64, 96)).shape == (1, 1, 6, 10) and disc.logit_grid(64, 96) == (6, 10)
    assert PatchDiscriminator(3, base=4, n_layers=0)(torch.zeros(1, 3, 5, 7)).shape == (1, 1, 5, 7)
    with pytest.raises(ValueError, match="larger input"):
        disc(torch.zeros(1, 3, 16, 16))


def test_patchgan_for_receptive_field():
    assert [patchgan_for_receptive_field(rf) for rf in (1, 16, 34, 70)] == [0, 1, 2, 3]
    assert patchgan_for_receptive_field("full", image_size=256) == 5  # the paper's 286x286 ImageGAN
    assert patchgan_for_receptive_field("full", image_size=64) == 3
    with pytest.raises(ValueError, match="receptive field 50"):
        patchgan_for_receptive_field(50)
    with pytest.raises(ValueError, match="image_size"):
        patchgan_for_receptive_field("full")


def test_patchgan_spectral_norm_wraps_every_conv():
    disc = PatchDiscriminator(2, base=4, n_layers=2, norm="none", spectral_norm=True)
    convs = [m for m in disc.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(hasattr(c, "parametrizations") for c in convs)
    assert disc(_randn(1, 2, 32, 32)).shape == (1, 1, 6, 6)


def test_make_norm_kinds():
    inst = make_norm("instance", 8)
    assert inst.affine and not inst.track_running_stats
    assert make_norm("group", 8).num_groups == 8 and make_norm("group", 64).num_groups == 32
    assert isinstance(make_norm("none", 8), nn.Identity)
    with pytest.raises(ValueError, match="'layer'"):
        make_norm("layer", 8)
