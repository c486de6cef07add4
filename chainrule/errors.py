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
