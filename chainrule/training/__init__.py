"""Training: batches, the fit loop, callbacks, metrics and the progress display."""

from ..errors import TrainingDiverged
from .callbacks import (
    Callback,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
)
from .data import DataError, DataLoader
from .loop import evaluate_loss, fit
from .metrics import accuracy, mean_absolute_error, r2_score
from .state import History, TrainingState

__all__ = [
    "Callback",
    "DataError",
    "DataLoader",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "TerminateOnNaN",
    "TrainingDiverged",
    "TrainingState",
    "accuracy",
    "evaluate_loss",
    "fit",
    "mean_absolute_error",
    "r2_score",
]
