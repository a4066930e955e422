"""Load prediction: history ring buffers and forecasters (pure; called by the daemon each cycle)."""

from balancerd.predict.predictor import Predictor

__all__ = ["Predictor"]
