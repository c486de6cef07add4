"""Column means, deviations and standardisation of a feature matrix, block by block of
rows: the same numbers as NumPy's whole-array expressions, without their temporaries.

``X.std(axis=0)`` makes a full copy (x - mean) before summing its squares, and
``(X - mean) / scale`` two; on a data set held in memory they are the peak.  Here a block
of rows of about :data:`BLOCK_BYTES` is the only temporary.

Why the numbers are the same: NumPy sums a C-ordered matrix of two columns or more over
axis 0 row after row (out = x_0, out += x_1, ...), so a block's sum started from the
running sum (the running sum as the block's first row) continues the very same
additions; the elementwise steps (x - mean, its square, / scale, the cast) do not depend
on blocking.  (A single column is summed pairwise: it is taken whole.)
The tests compare both with NumPy's expressions bit for bit.
"""

from __future__ import annotations

import numpy as np

BLOCK_BYTES = 512 << 10


def _block_rows(X: np.ndarray, block_rows: int | None) -> int:
    """``block_rows``, or as many rows as fill about BLOCK_BYTES in float64."""
    if block_rows is not None:
        return block_rows
    return max(1, BLOCK_BYTES // (8 * max(1, X.shape[1] if X.ndim == 2 else 1)))


def _column_sums(blocks) -> np.ndarray:
    """sum_i x_i over the rows of every block in turn, added in row order."""
    total = None
    for block in blocks:
        total = block.sum(axis=0) if total is None else np.vstack([total, block]).sum(axis=0)
    return total


def _row_blocks(X: np.ndarray, rows: int):
    return (X[start : start + rows] for start in range(0, len(X), rows))


def _squared_deviations(X: np.ndarray, mean: np.ndarray, rows: int):
    for block in _row_blocks(X, rows):
        deviation = block - mean
        yield np.multiply(deviation, deviation, out=deviation)


def column_mean_and_std(
    X: np.ndarray, block_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """mean_j = (1/N) sum_i x_ij and std_j = sqrt((1/N) sum_i (x_ij - mean_j)^2) of a
    2-D float64 array: ``X.mean(axis=0)`` and ``X.std(axis=0)``, bit for bit."""
    if X.ndim == 2 and X.shape[1] == 1:
        # one column is contiguous along axis 0, which NumPy sums pairwise, not row
        # after row: only the whole expression gives its bits (its temporaries are one
        # column: the data's own size)
        return X.mean(axis=0), X.std(axis=0)
    n, block_rows = len(X), _block_rows(X, block_rows)
    mean = _column_sums(_row_blocks(X, block_rows)) / n
    std = np.sqrt(_column_sums(_squared_deviations(X, mean, block_rows)) / n)
    return mean, std


def standardised(
    X: np.ndarray,
    mean: np.ndarray | None,
    scale: np.ndarray | None,
    dtype: np.dtype,
    block_rows: int | None = None,
) -> np.ndarray:
    """((X - mean) / scale) computed in X's precision and cast to ``dtype`` (X as it is,
    cast, without ``mean``): ``((X - mean) / scale).astype(dtype)`` bit for bit."""
    out, block_rows = np.empty(X.shape, dtype=dtype), _block_rows(X, block_rows)
    for start in range(0, len(X), block_rows):
        block = X[start : start + block_rows]
        out[start : start + block_rows] = block if mean is None else (block - mean) / scale
    return out
