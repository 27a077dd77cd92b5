"""Adversarial models: the shared game (game.py), tricks (tricks.py), BEGAN's autoencoder D (began.py),
and the registered models `gan` (MLP, toys/vectors) and `dcgan` (conv, 8-64 px images)."""
from . import gan, dcgan, began  # noqa: F401
