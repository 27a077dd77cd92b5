"""Building blocks only (no losses, no training): MLPs, conv encoders/decoders, norms, padding modes,
U-Net, ResNet generator, PatchGAN, latent-conditioned (CIN) generator and encoder."""
from .mlp import MLP  # noqa: F401
from .conv import ConvDecoder, ConvEncoder, downsample_plan  # noqa: F401
from .norms import conv_bias, make_norm  # noqa: F401
from .padding import PaddedConv2d, PaddedConvTranspose2d, pad2d, resolve_axis_modes  # noqa: F401
from .unet import UNet  # noqa: F401
from .resnet import ResnetBlock, ResnetGenerator  # noqa: F401
from .patchgan import (  # noqa: F401
    PatchDiscriminator,
    patchgan_conv_specs,
    patchgan_for_receptive_field,
    receptive_field,
)
from .latent import CondInstanceNorm2d, LatentEncoder, LatentResnetBlock, LatentResnetGenerator  # noqa: F401
