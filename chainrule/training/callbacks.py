"""Callbacks: hooks that the fit loop calls at the start, after each batch and epoch,
and at the end.  A callback may stop training by setting ``state.stop_training``.

Each batch: forward, ``backward()``, ``on_backward_end`` (the batch's gradients are in
``p.grad``), the optimizer step (which releases them), ``on_batch_end`` (the updated
weights; no gradients)."""

from __future__ import annotations

import math
import os
from typing import Any

from ..io import save, save_weights
from ..nn import MLP
from ..optim import ReduceLROnPlateau, Schedule
from .state import TrainingState


class Callback:
    def on_train_begin(self, state: TrainingState) -> None: ...

    def on_backward_end(self, state: TrainingState, batch: int) -> None:
        """After backward, before the update: read gradients here."""

    def on_batch_end(self, state: TrainingState, batch: int, loss: float) -> None:
        """After the update, with the batch's loss."""

    def on_epoch_end(self, state: TrainingState, epoch: int, logs: dict[str, float]) -> None: ...

    def on_train_end(self, state: TrainingState) -> None: ...


def _improved(mode: str, value: float, best: float, min_delta: float) -> bool:
    if mode == "min":
        return value < best - min_delta
    return value > best + min_delta


def _resolve_mode(mode: str, monitor: str) -> str:
    if mode == "auto":
        return "max" if any(k in monitor for k in ("accuracy", "r2")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    return mode


def _monitored(state: TrainingState, monitor: str, who: str) -> None:
    if monitor.startswith("val_") and not state.has_validation:
        raise ValueError(
            f"{who} monitors '{monitor}' but fit() has no validation data; pass "
            f"validation_split or validation_data, or monitor '{monitor[4:]}'"
        )


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs; with ``restore_best=True`` the weights of the best epoch are put back."""

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best: bool = True,
        mode: str = "auto",
    ) -> None:
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.restore_best = restore_best
        self.mode = _resolve_mode(mode, monitor)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, Any] | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def on_train_begin(self, state):
        _monitored(state, self.monitor, "EarlyStopping")
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.best_state, self.wait, self.stopped_epoch = None, None, 0, None

    def on_epoch_end(self, state, epoch, logs):
        value = logs[self.monitor]
        if _improved(self.mode, value, self.best, self.min_delta):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = state.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            state.stop_training = True
            state.history.stopped_early = True

    def on_train_end(self, state):
        if self.restore_best and self.best_state is not None:
            state.model.load_state_dict(self.best_state)
            state.history.restored_epoch = self.best_epoch


class ModelCheckpoint(Callback):
    """Save the model to ``path`` (safetensors, written atomically) after each epoch, or
    only when ``monitor`` improves (``save_best_only=True``).  An MLP is saved whole
    (``chainrule.io.load`` reads it back); any other module, its weights."""

    def __init__(
        self,
        path: str | os.PathLike,
        monitor: str = "val_loss",
        save_best_only: bool = True,
        mode: str = "auto",
    ) -> None:
        self.path, self.monitor, self.save_best_only = path, monitor, save_best_only
        self.mode = _resolve_mode(mode, monitor)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved_epochs: list[int] = []

    def on_train_begin(self, state):
        if self.save_best_only:
            _monitored(state, self.monitor, "ModelCheckpoint")

    def on_epoch_end(self, state, epoch, logs):
        if self.save_best_only:
            if not _improved(self.mode, logs[self.monitor], self.best, 0.0):
                return
            self.best = logs[self.monitor]
        info = {"epoch": epoch, "logs": logs}
        if isinstance(state.model, MLP):
            save(state.model, self.path, info=info)
        else:
            save_weights(state.model, self.path, {"format_version": 1, "info": info})
        self.saved_epochs.append(epoch)


class LearningRateScheduler(Callback):
    """Step a learning-rate schedule at the end of every epoch (a plateau schedule is
    given ``monitor``'s value: val_loss when there is validation data, else loss)."""

    def __init__(self, schedule: Schedule, monitor: str | None = None) -> None:
        self.schedule, self.monitor = schedule, monitor

    def on_epoch_end(self, state, epoch, logs):
        if isinstance(self.schedule, ReduceLROnPlateau):
            monitor = self.monitor or ("val_loss" if "val_loss" in logs else "loss")
            self.schedule.step(logs[monitor])
        else:
            self.schedule.step()


class TerminateOnNaN(Callback):
    """Stop as soon as a batch loss is NaN or inf (or a parameter is, at an epoch's
    end), and let fit return with ``history.terminated_on_nan``: without this callback
    fit raises TrainingDiverged.  Either way the failing batch's gradients are not
    applied."""

    stops_on_divergence = True  # read by fit

    def on_batch_end(self, state, batch, loss):
        if not math.isfinite(loss):
            state.stop_training = True
            state.history.terminated_on_nan = True
