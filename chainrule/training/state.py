"""What a training run carries: its history of per-epoch figures, and the state that
callbacks see and may change.  Below both the fit loop and the callbacks, which import it."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..nn import Module
from ..optim import Optimizer


@dataclass
class History:
    """Per-epoch figures: ``history["loss"]``, ``history["val_loss"]``, ...

    ``restored_epoch`` is the epoch whose weights the model was given back at the end
    (EarlyStopping with ``restore_best``), None when it keeps the last epoch's;
    :meth:`final` gives the figures of the epoch whose weights the model holds."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs: list[int] = field(default_factory=list)
    stopped_early: bool = False
    interrupted: bool = False
    terminated_on_nan: bool = False
    restored_epoch: int | None = None

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    @property
    def final_epoch(self) -> int | None:
        """The epoch whose weights the model holds: the restored one, else the last."""
        if self.restored_epoch is not None:
            return self.restored_epoch
        return self.epochs[-1] if self.epochs else None

    def final(self) -> dict[str, float]:
        """The figures of :attr:`final_epoch` (empty before any epoch)."""
        epoch = self.final_epoch
        if epoch is None:
            return {}
        index = self.epochs.index(epoch)
        return {key: values[index] for key, values in self.history.items() if index < len(values)}

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
