"""pandas and polars DataFrames as arrays: the feature matrix, the target, the column names.

The features are copied once, column by column, straight into one C-ordered matrix of the
requested dtype (a DataFrame stores columns apart, so a row-major matrix is one copy; a
float64 column is read as a view of its buffer, Arrow-backed or NumPy, before that copy).
The matrix holds the same numbers as ``np.asarray(frame, dtype)``, in the layout an array
in memory has, so training on a DataFrame gives the weights training on its array gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .checks import DataError


def _is_polars(value: Any) -> bool:
    return type(value).__module__.partition(".")[0] == "polars"


def _column_values(frame: Any, name: Any) -> np.ndarray:
    """Column ``name`` as a NumPy array of numbers (missing values as NaN), or a DataError
    naming the column."""
    column = frame.get_column(name) if _is_polars(frame) else frame[name]
    try:
        if _is_polars(frame):
            values = column.to_numpy()
        else:
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        values = None
    if values is None or values.dtype.kind not in "fiub":
        raise DataError(f"column {name!r} holds {column.dtype} values, not numbers")
    return values


def column_names(frame: Any) -> list[str]:
    return [str(c) for c in frame.columns]


def feature_matrix(frame: Any, columns: Sequence[Any], dtype: Any = np.float64) -> np.ndarray:
    """The columns ``columns`` of ``frame`` as a C-ordered (rows, columns) matrix of
    ``dtype``; a DataError lists the frame's columns when one is missing."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"column {missing[0]!r} is not in the DataFrame; its columns are {column_names(frame)}"
        )
    out = np.empty((len(frame), len(columns)), dtype=dtype)
    for j, name in enumerate(columns):
        out[:, j] = _column_values(frame, name)
    return out


def target_values(frame: Any, name: Any) -> np.ndarray:
    """Column ``name`` as it is (labels keep their type), or a DataError listing columns."""
    if name not in frame.columns:
        raise DataError(
            f"target column {name!r} is not in the DataFrame; its columns are {column_names(frame)}"
        )
    return np.asarray((frame.get_column(name) if _is_polars(frame) else frame[name]).to_numpy())


def frame_arrays(
    X: Any, y: Any, dtype: Any = np.float64, features: Sequence[Any] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(feature matrix, target, feature names) of DataFrame ``X``.

    ``y`` is the target column's name (the features are then the other columns), or the
    targets themselves (an array or a Series; every column is a feature).  ``features``
    picks and orders the feature columns instead."""
    if y is None:
        raise DataError("y is missing: give the target column's name or the targets")
    target_column = y if isinstance(y, str) else None
    if features is None:
        features = [c for c in X.columns if c != target_column]
    matrix = feature_matrix(X, list(features), dtype)
    if target_column is not None:
        target = target_values(X, target_column)
    else:
        target = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
    return matrix, target, [str(c) for c in features]
