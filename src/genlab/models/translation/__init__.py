"""Conditional models that map one field to another; their modules register themselves on import."""
from . import unet_l1  # noqa: F401
from . import pix2pix  # noqa: F401
from . import cyclegan  # noqa: F401
from . import augmented_cyclegan  # noqa: F401
