"""Model family package; its modules register themselves on import."""
from . import glow, realnvp  # noqa: F401
