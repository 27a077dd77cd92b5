"""Adversarial models: the shared game (game.py), tricks (tricks.py), BEGAN's autoencoder D (began.py),
and the registered models `gan` (MLP, toys/vectors), `dcgan` (conv, 8-64 px images) and `cdcgan`
(class-conditional dcgan with a projection D), `stylegan` (StyleGAN2-style, with augment.py's DiffAugment/ADA)."""
from . import gan, dcgan, began, cdcgan, stylegan  # noqa: F401
