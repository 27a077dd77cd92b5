"""Applying trained models to user inputs of any size: padding/tiling (tiles.py) and file I/O (io.py),
shared by `genlab translate` and the restoration commands."""
