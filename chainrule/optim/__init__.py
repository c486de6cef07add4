"""Optimizers and learning-rate schedules."""

from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from .schedules import (
    ConstantLR,
    CosineLR,
    ExponentialLR,
    InverseScalingLR,
    ReduceLROnPlateau,
    Schedule,
    StepLR,
)

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "ConstantLR",
    "CosineLR",
    "ExponentialLR",
    "InverseScalingLR",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "Schedule",
    "StepLR",
]
