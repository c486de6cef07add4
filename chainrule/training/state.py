"""What a training run carries: its history of per-epoch figures, and the state that
callbacks see and may change.  Below both the fit loop and the callbacks, which import it."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..nn import Module
from ..optim import Optimizer


@dataclass
class History:
    """Per-epoch figures: ``history["loss"]``, ``history["val_loss"]``, ..."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs: list[int] = field(default_factory=list)
    stopped_early: bool = False
    interrupted: bool = False
    terminated_on_nan: bool = False
    restored_epoch: int | None = None

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


@dataclass
class TrainingState:
    """What callbacks see and may change."""

    model: Module
    optimizer: Optimizer
    history: History
    has_validation: bool
    stop_training: bool = False
