"""The array-module handle: the one way the engine reaches NumPy (or a NumPy-like library)."""

from __future__ import annotations

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
