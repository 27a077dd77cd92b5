"""Pictures: image grids, sample scatters, loss curves (matplotlib, Agg backend, files only)."""
from .grid import image_grid, save_grid  # noqa: F401
