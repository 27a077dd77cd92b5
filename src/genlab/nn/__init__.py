"""Building blocks only (no losses, no training): MLPs, conv encoders/decoders, norms."""
from .mlp import MLP  # noqa: F401
from .conv import ConvDecoder, ConvEncoder, downsample_plan  # noqa: F401
