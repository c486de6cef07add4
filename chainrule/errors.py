"""Errors shared across chainrule's layers."""


class MissingExtraError(RuntimeError):
    """A feature needs an optional dependency that is not installed; the message says
    which ``pip install 'chainrule[...]'`` brings it."""
