"""The array-module handle: the one way the engine reaches NumPy (or a NumPy-like library)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

FLOAT_KINDS = ("f", "c")


def array_module(array: Any):
    """The array namespace of ``array``: NumPy for NumPy arrays, the array's own module
    (e.g. CuPy, through ``__array_namespace__``) otherwise.  Gates receive this handle
    as ``xp`` and call array functions only through it."""
    if type(array) is np.ndarray or isinstance(array, np.generic):
        return np
    namespace = getattr(array, "__array_namespace__", None)
    return namespace() if namespace is not None else np


def _sole_reference_count() -> int:
    """What sys.getrefcount reports for an object held by one local variable only: 2 on
    most Pythons (the variable and the call's argument), less where the interpreter
    borrows the argument.  Measured, not assumed, in the same code shape as its users'."""
    probe = np.empty(1)
    return sys.getrefcount(probe)


# ``sys.getrefcount(a) == SOLE_REFERENCE`` for an array ``a`` that only the local
# variable ``a`` refers to: code that made it may then overwrite it, as nothing else
# can see it (with ``a.base is None``: it is not a view of memory others see either).
SOLE_REFERENCE = _sole_reference_count()
