"""Model family package; its modules register themselves on import."""
from . import gmm, kde  # noqa: F401
