"""Restoration models (super-resolution; later inpainting, denoising, gap filling of fields); their modules
register themselves on import."""
from . import srresnet  # noqa: F401
from . import srgan  # noqa: F401
