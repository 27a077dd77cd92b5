"""Model family package; its modules register themselves on import."""
from . import pixelcnn  # noqa: F401
