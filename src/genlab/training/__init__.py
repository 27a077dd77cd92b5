"""The one trainer and what it needs: distributed helpers, precision, EMA, checkpoints, logging."""
from .trainer import Trainer, TrainingInterrupted  # noqa: F401
