"""Model families; importing this package registers every model in MODELS."""
from . import autoencoders, autoregressive, density, flows, gans, restoration, sequence, translation  # noqa: F401
from .base import Batch, DataInfo, GenerativeModel, Phase  # noqa: F401
