"""Restoration models (super-resolution, inpainting, denoising; later gap filling of fields); their modules
register themselves on import."""
from . import srresnet  # noqa: F401
from . import srgan  # noqa: F401
from . import inpaint  # noqa: F401
from . import denoise  # noqa: F401
