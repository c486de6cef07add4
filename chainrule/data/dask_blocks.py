"""Dask collections as block readers: one chunk (array) or partition (DataFrame) per block.

``read_block(i)`` computes that one piece, with one ``dask.compute`` call for its features
and targets together, so data on a cluster reaches the training process one piece at a
time and is never gathered whole.  The pieces go through
:class:`~chainrule.data.streaming.StreamingSource`, which visits them in a shuffled order
per epoch.

Row indices: a Dask array's chunks have known lengths, so its rows get their global
0-based indices.  A DataFrame's partitions usually do not (counting them would compute
every partition), so its rows are numbered ``partition * 2**40 + row within the
partition``: unique and stable, which is all the validation rule needs.
"""

from __future__ import annotations

from typing import Any

import dask
import numpy as np

from .checks import DataError

PARTITION_STRIDE = 1 << 40


class DaskArrayReader:
    """Row chunks of a 2-D ``dask.array`` X with targets y (a Dask or NumPy array)."""

    background_reads = True  # computed from a read-ahead thread, in the caller's context

    def __init__(self, X: Any, y: Any) -> None:
        if X.ndim != 2:
            raise DataError(f"X must be 2-D (samples, features), got shape {X.shape}")
        if any(np.isnan(c) for c in X.chunks[0]):
            raise DataError(
                "X is a Dask array with unknown chunk sizes; call X.compute_chunk_sizes() first"
            )
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})  # a block is whole rows
        if y is None:
            raise DataError("y is missing: a Dask array X needs targets y")
        if y.shape[0] != X.shape[0]:
            raise DataError(f"y has {y.shape[0]} rows but X has {X.shape[0]}")
        if is_dask(y) and y.chunks[0] != X.chunks[0]:
            y = y.rechunk({0: X.chunks[0]})
        self.X, self.y = X, y
        self.offsets = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)
        self.n_blocks = len(X.chunks[0])
        self.feature_names = [f"x{j}" for j in range(X.shape[1])]

    def read_block(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        start, stop = int(self.offsets[i]), int(self.offsets[i + 1])
        if is_dask(self.y):
            features, target = dask.compute(self.X.blocks[i], self.y.blocks[i])
        else:
            (features,) = dask.compute(self.X.blocks[i])
            target = np.asarray(self.y)[start:stop]
        rows = np.arange(start, stop, dtype=np.int64)
        return np.asarray(features, dtype=np.float64), np.asarray(target).reshape(-1), rows


class DaskFrameReader:
    """Partitions of a ``dask.dataframe`` DataFrame: the features are its columns but the
    target, which is a column name or a Dask Series with the same partitions."""

    background_reads = True  # computed from a read-ahead thread, in the caller's context

    def __init__(self, frame: Any, target: Any) -> None:
        if target is None:
            raise DataError("y is missing: give the target column's name or a Dask Series")
        if isinstance(target, str):
            if target not in frame.columns:
                raise DataError(
                    f"target column {target!r} is not among the columns: {list(frame.columns)}"
                )
            features = [c for c in frame.columns if c != target]
            self.frame = frame[[*features, target]]
            self.target_name = target
        else:
            if not is_dask(target):
                raise DataError("y for a Dask DataFrame must be a column name or a Dask Series")
            name = "__chainrule_target__"
            features = list(frame.columns)
            self.frame = frame.assign(**{name: target})
            self.target_name = name
        self.feature_names = [str(c) for c in features]
        self._features = features
        self.n_blocks = int(frame.npartitions)

    def read_block(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        (part,) = dask.compute(self.frame.partitions[i])
        features = part[self._features].to_numpy(dtype=np.float64)
        target = part[self.target_name].to_numpy()
        rows = i * PARTITION_STRIDE + np.arange(len(part), dtype=np.int64)
        return features, target, rows


def is_dask(value: Any) -> bool:
    return hasattr(value, "__dask_graph__")


def dask_reader(X: Any, y: Any) -> DaskArrayReader | DaskFrameReader:
    """The block reader of a Dask array (with targets ``y``) or DataFrame (``y`` a column
    name or Series)."""
    if hasattr(X, "columns"):
        return DaskFrameReader(X, y)
    return DaskArrayReader(X, y)
