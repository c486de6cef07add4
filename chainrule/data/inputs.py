"""What ``fit`` makes of its X and y: arrays and DataFrames stay in memory, anything else
becomes a batch source (see ``sources.py`` for the kinds)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..nn.init import RandomSource
from .checks import DataError
from .sources import BatchSource, BlockReader, IterableSource
from .streaming import StreamingSource


def _library_of(value: Any) -> str:
    """The top-level package that defines ``value``'s type ('numpy', 'pandas', 'dask', ...)."""
    return type(value).__module__.partition(".")[0]


def is_dataframe(value: Any) -> bool:
    """A pandas or polars DataFrame (recognised without importing either)."""
    return _library_of(value) in ("pandas", "polars") and hasattr(value, "columns")


def is_dask_collection(value: Any) -> bool:
    return _library_of(value) == "dask" and hasattr(value, "__dask_graph__")


def is_batch_input(X: Any, y: Any) -> bool:
    """Whether ``fit`` is given a source rather than arrays or a DataFrame (``y`` is None or
    X is a Dask collection)."""
    if is_dask_collection(X):
        return True
    return y is None and not isinstance(X, np.ndarray) and not is_dataframe(X)


def batch_source(
    X: Any,
    y: Any,
    *,
    batch_size: int,
    shuffle: bool,
    seed: RandomSource,
    split_seed: int,
    validation_split: float,
    dtype: Any,
) -> BatchSource:
    """The source for ``fit``'s X (and y) when :func:`is_batch_input` says it is one."""
    if is_dask_collection(X):
        from .dask_blocks import dask_reader

        reader: BlockReader = dask_reader(X, y)
        return StreamingSource(
            reader, batch_size=batch_size, shuffle=shuffle, seed=seed, dtype=dtype,
            validation_split=validation_split, split_seed=split_seed,
        )  # fmt: skip
    if isinstance(X, BatchSource) and not isinstance(X, (list, tuple)):
        if validation_split:
            raise ValueError(
                "X is a batch source: give the validation split to the source itself, not to fit"
            )
        return X
    if isinstance(X, BlockReader):
        return StreamingSource(
            X, batch_size=batch_size, shuffle=shuffle, seed=seed, dtype=dtype,
            validation_split=validation_split, split_seed=split_seed,
        )  # fmt: skip
    if isinstance(X, Iterable) or callable(X):
        return IterableSource(X, dtype, validation_split, split_seed)
    raise DataError(
        f"y is missing: X of type {type(X).__name__} needs targets y (or pass an iterable "
        "of (X, y) batches)"
    )
