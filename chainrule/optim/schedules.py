"""Learning-rate schedules: the notes' step size eps(t) as a function of the epoch t.

Each schedule holds its optimizer and sets ``optimizer.lr`` when ``step()`` is called,
once per epoch (``ReduceLROnPlateau.step(metric)`` takes the monitored value).  The
base rate eps0 is the optimizer's learning rate when the schedule is made.
"""

from __future__ import annotations

import math

from .optimizers import Optimizer


class Schedule:
    """Base class: ``lr_at(t)`` gives eps(t); ``step()`` advances t and applies it."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def lr_at(self, t: int) -> float:
        raise NotImplementedError

    def step(self, metric: float | None = None) -> float:
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)
        return self.optimizer.lr


class ConstantLR(Schedule):
    """eps(t) = eps0."""

    def lr_at(self, t):
        return self.base_lr


class InverseScalingLR(Schedule):
    """eps(t) = eps0 / (t + 1)^power_t (scikit-learn's "invscaling", counted in epochs)."""

    def __init__(self, optimizer, power_t: float = 0.5):
        super().__init__(optimizer)
        self.power_t = power_t

    def lr_at(self, t):
        return self.base_lr / (t + 1) ** self.power_t


class StepLR(Schedule):
    """eps(t) = eps0 gamma^floor(t / step_size)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        if step_size < 1:
            raise ValueError(f"step_size must be at least 1, got {step_size}")
        self.step_size = step_size
        self.gamma = gamma

    def lr_at(self, t):
        return self.base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR(Schedule):
    """eps(t) = eps0 gamma^t."""

    def __init__(self, optimizer, gamma: float):
        super().__init__(optimizer)
        self.gamma = gamma

    def lr_at(self, t):
        return self.base_lr * self.gamma**t


class CosineLR(Schedule):
    """eps(t) = eta_min + (eps0 - eta_min) (1 + cos(pi t / T_max)) / 2, then eta_min."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        super().__init__(optimizer)
        if T_max < 1:
            raise ValueError(f"T_max must be at least 1, got {T_max}")
        self.T_max = T_max
        self.eta_min = eta_min

    def lr_at(self, t):
        t = min(t, self.T_max)
        return (
            self.eta_min
            + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2
        )


class ReduceLROnPlateau(Schedule):
    """Multiply eps by ``factor`` when the monitored value has not improved by more than
    ``min_delta`` for ``patience`` epochs (like scikit-learn's "adaptive"), not below min_lr.
    ``mode="min"`` for a loss, "max" for a score."""

    def __init__(
        self,
        optimizer,
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        min_lr: float = 0.0,
        mode: str = "min",
    ):
        super().__init__(optimizer)
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.factor, self.patience, self.min_delta = factor, patience, min_delta
        self.min_lr, self.mode = min_lr, mode
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_epochs = 0

    def step(self, metric: float | None = None) -> float:
        if metric is None:
            raise ValueError("ReduceLROnPlateau.step() needs the monitored value")
        self.epoch += 1
        improved = (
            metric < self.best - self.min_delta
            if self.mode == "min"
            else metric > self.best + self.min_delta
        )
        if improved:
            self.best = metric
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.patience:
                self.optimizer.lr = max(self.optimizer.lr * self.factor, self.min_lr)
                self.bad_epochs = 0
        return self.optimizer.lr

    def lr_at(self, t):
        return self.optimizer.lr
