"""Errors shared across chainrule's layers."""


class MissingExtraError(RuntimeError):
    """A feature needs an optional dependency that is not installed; the message says
    which ``pip install 'chainrule[...]'`` brings it."""


class ModelFileError(ValueError):
    """A model file is missing, corrupt, truncated, tampered with or of an unknown kind; the
    message names the file.  ``text`` is true when the file is text (a CSV given where the
    model belongs, say)."""

    def __init__(self, message: str, *, text: bool = False) -> None:
        super().__init__(message)
        self.text = text


class TrainingDiverged(ValueError):
    """Training stopped because it diverged: a batch's loss, or after an epoch a
    parameter, is NaN or infinite.  ``epoch`` and ``batch`` (1-based; ``batch`` is None
    for a parameter found at an epoch's end) say where, and ``history`` holds the epochs
    completed before it.  The message ends with a hint: lower the learning rate."""

    def __init__(self, message: str, epoch: int, batch: int | None, history: object) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.history = epoch, batch, history
