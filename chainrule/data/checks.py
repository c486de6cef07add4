"""The checks every training input goes through: numeric, 2-D, finite, and y as long as X.

A failed check is a :class:`DataError` whose message names the array, the row and the
column.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class DataError(ValueError):
    """Training data that cannot be used: the message says which array, row and column."""


def check_features(X: Any, name: str = "X", row_step: int = 1, row_offset: int = 0) -> np.ndarray:
    """X as a 2-D numeric array with finite values, or a DataError naming the problem.
    When X is rows ``row_offset::row_step`` of a larger array, the error names the row
    of that array (row_offset + i row_step for row i of X)."""
    array = np.asarray(X)
    if array.dtype == object or array.dtype.kind not in "fiub":
        raise DataError(f"{name} must be numeric, got values of dtype {array.dtype}")
    if array.ndim == 1:
        raise DataError(
            f"{name} must be 2-D (samples, features), got a 1-D array of {len(array)} "
            "values; for a single feature use X.reshape(-1, 1)"
        )
    if array.ndim != 2:
        raise DataError(f"{name} must be 2-D (samples, features), got shape {array.shape}")
    if array.shape[0] == 0:
        raise DataError(f"{name} has no samples")
    # a sum is finite only if every value is (NaN and inf propagate): one pass, no
    # temporary; only when it is not finite (or overflowed) is each value looked at
    if array.dtype.kind in "fc" and not np.isfinite(array.sum()):
        bad = ~np.isfinite(array)
        if bad.any():
            row, column = (int(i) for i in np.argwhere(bad)[0])
            raise DataError(
                f"{name} contains {array[row, column]} at row {row_offset + row * row_step}, "
                f"column {column}; "
                "remove or impute missing values first"
            )
    return array


def check_targets(y: Any, n_samples: int, name: str = "y") -> np.ndarray:
    array = np.asarray(y)
    if array.dtype == object or array.dtype.kind not in "fiub":
        raise DataError(
            f"{name} must be numeric (encode text labels as integers first), "
            f"got dtype {array.dtype}"
        )
    if len(array) != n_samples:
        raise DataError(f"{name} has {len(array)} rows but X has {n_samples}")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        row = int(np.argwhere(~np.isfinite(array.reshape(len(array), -1)))[0][0])
        raise DataError(f"{name} contains NaN or inf at row {row}")
    return array
