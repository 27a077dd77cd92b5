"""Pure tensor maths: likelihoods and divergences (functional.py); adversarial D/G pairs registered by
name in LOSSES (adversarial.py)."""
from . import functional  # noqa: F401
from . import adversarial, regularizers  # noqa: F401
