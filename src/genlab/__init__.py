"""genlab: train, evaluate, explore and apply deep generative models with one trainer."""
__version__ = "0.1.0"

from .errors import GenlabError  # noqa: F401
