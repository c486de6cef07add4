"""Batches over NumPy arrays, and the checks every training input goes through."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..nn.init import RandomSource, as_generator


class DataError(ValueError):
    """Training data that cannot be used: the message says which array, row and column."""


def check_features(X: Any, name: str = "X") -> np.ndarray:
    """X as a 2-D numeric array with finite values, or a DataError naming the problem."""
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
                f"{name} contains {array[row, column]} at row {row}, column {column}; "
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


class DataLoader:
    """Mini-batches of (X, y) — and sample weights when given — in order or shuffled.

    With ``shuffle=True`` each pass draws a new permutation from a generator seeded by
    ``seed``, so the sequence of batches is the same on every run with the same seed.
    The last batch may be smaller.
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray | None = None,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: RandomSource = None,
        sample_weight: np.ndarray | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.rng = as_generator(seed)

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        n = len(self.X)
        order = self.rng.permutation(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                index: Any = slice(start, start + self.batch_size)
            else:
                index = order[start : start + self.batch_size]
            batch = [self.X[index]]
            if self.y is not None:
                batch.append(self.y[index])
            if self.sample_weight is not None:
                batch.append(self.sample_weight[index])
            yield tuple(batch)
