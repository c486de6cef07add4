"""Where ``fit`` gets its batches: the :class:`BatchSource` interface and its in-memory kinds.

A source yields one epoch's batches each time it is iterated: tuples ``(X, y)`` or
``(X, y, sample_weight)`` of NumPy arrays in the model's dtype.  ``fit`` only iterates it,
asks how many batches to expect (for the progress bar; ``None`` when unknown) and, when the
source holds validation rows of its own, asks for those after each epoch.

The kinds, and what ``fit(model, loss, opt, X, y)`` makes of its arguments
(``inputs.batch_source``):

* NumPy arrays (or anything ``np.asarray`` takes): :class:`ArraySource`, a new
  permutation of the rows per epoch from the seed (``fit`` splits off validation rows
  itself, as it always has);
* pandas and polars DataFrames: converted to arrays (``frames.py``), then as above, so
  training on a DataFrame gives the same weights as training on its array; ``y`` is an
  array, a Series, or the name of the target column (the other columns are the features);
* an iterable of batches (``y=None``): :class:`IterableSource`, the batches in the order
  given; a list (or any re-iterable) gives them again each epoch, a function returning a
  fresh iterable is called once per epoch, and a one-shot iterator (a generator) serves
  one epoch only: asking it for a second is a :class:`DataError`;
* a :class:`BlockReader` (``y=None``), or a Dask array or DataFrame: blocks through a
  bounded shuffle buffer (``streaming.StreamingSource``);
* any object with the :class:`BatchSource` interface (``y=None``), as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..nn.init import RandomSource, as_generator
from .checks import DataError, check_features, check_targets
from .rows import check_fraction, validation_mask

Batch = tuple[np.ndarray, ...]


@runtime_checkable
class BatchSource(Protocol):
    """What ``fit`` asks of its data: batches, one epoch per iteration."""

    #: whether :meth:`validation_batches` yields held-out rows of the source's own
    has_validation: bool

    def __iter__(self) -> Iterator[Batch]:
        """One epoch's batches: ``(X, y)`` or ``(X, y, sample_weight)``."""
        ...

    def expected_batches(self) -> int | None:
        """How many batches an epoch has (an estimate is allowed), or None if unknown."""
        ...

    def validation_batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The held-out rows as ``(X, y)`` batches, evaluated after each epoch."""
        ...


@runtime_checkable
class BlockReader(Protocol):
    """A table read block by block (a CSV or Parquet reader, a Dask collection).

    ``read_block(i)`` returns the features as float64 of shape (n, d), the raw target of
    shape (n,) (labels as they are in the file; a transform encodes them) and each row's
    global 0-based index (int64, shape (n,)), for ``i`` in ``range(n_blocks)``.  A block
    is read again each epoch: the reader keeps nothing between calls."""

    n_blocks: int
    feature_names: list[str]

    def read_block(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def targets_for(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float targets in the model's dtype; integer class indices as they are."""
    return y.astype(dtype, copy=False) if y.dtype.kind == "f" else y


class ArraySource:
    """Mini-batches of (X, y) — and sample weights when given — in order or shuffled.

    With ``shuffle=True`` each pass draws a new permutation from a generator seeded by
    ``seed``, so the sequence of batches is the same on every run with the same seed.
    The last batch may be smaller.  ``rows`` (indices into X, y and the weights) makes
    the source those rows alone, without copying them out: the batches of
    ``ArraySource(X[rows], y[rows], ...)``, value for value.
    """

    has_validation = False

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray | None = None,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: RandomSource = None,
        sample_weight: np.ndarray | None = None,
        rows: np.ndarray | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.rows = rows
        self.n = len(X) if rows is None else len(rows)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.rng = as_generator(seed)

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def expected_batches(self) -> int:
        return len(self)

    def validation_batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return iter(())

    def __iter__(self) -> Iterator[Batch]:
        n, rows = self.n, self.rows
        order = self.rng.permutation(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                index: Any = slice(start, start + self.batch_size)
            else:
                index = order[start : start + self.batch_size]
            if rows is not None:
                index = rows[index]
            batch = [self.X[index]]
            if self.y is not None:
                batch.append(self.y[index])
            if self.sample_weight is not None:
                batch.append(self.sample_weight[index])
            yield tuple(batch)


class RowsOf:
    """Rows ``rows`` of ``array`` taken a slice at a time, without a copy of them all:
    ``RowsOf(array, rows)[a:b]`` is ``array[rows[a:b]]``.  (A validation split evaluated
    in batches needs nothing more.)"""

    def __init__(self, array: np.ndarray, rows: np.ndarray) -> None:
        self.array, self.rows = array, rows
        self.shape = (len(rows), *array.shape[1:])
        self.dtype = array.dtype

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: slice) -> np.ndarray:
        return self.array[self.rows[index]]


def batches_of(X: np.ndarray, y: np.ndarray, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(X, y) in consecutive slices of ``size`` rows."""
    for start in range(0, len(X), size):
        yield X[start : start + size], y[start : start + size]


class IterableSource:
    """Batches as the caller makes them: an iterable of ``(X, y)`` or ``(X, y, w)``, or a
    function returning a fresh such iterable per epoch.

    Each batch is checked (numeric, 2-D, finite, y as long as X) and cast to ``dtype``.
    With ``validation_split``, the rows are numbered in the order they come (0, 1, ...
    across the epoch's batches) and held out by the row rule of ``rows.py``; the held-out
    rows of the epoch are gathered (in memory) and evaluated after it.  The batches are
    not reshuffled: their order is the caller's.
    """

    def __init__(
        self,
        batches: Iterable[Any] | Callable[[], Iterable[Any]],
        dtype: Any = np.float32,
        validation_split: float = 0.0,
        split_seed: int = 0,
    ) -> None:
        self.batches, self.dtype = batches, np.dtype(dtype)
        self.fraction, self.split_seed = check_fraction(validation_split), int(split_seed)
        self.has_validation = self.fraction > 0
        self.epochs_started = 0
        self.seen_batches: int | None = None
        self.held_out: list[tuple[np.ndarray, np.ndarray]] = []

    def _fresh(self) -> Iterable[Any]:
        if callable(self.batches) and not hasattr(self.batches, "__iter__"):
            return self.batches()
        if self.epochs_started > 0 and iter(self.batches) is self.batches:
            raise DataError(
                f"X is a one-shot iterator ({type(self.batches).__name__}): it gave its "
                f"batches in epoch 1 and has none for epoch {self.epochs_started + 1}; pass "
                "a list of batches or a function returning a fresh iterable per epoch"
            )
        return self.batches

    def expected_batches(self) -> int | None:
        if self.seen_batches is not None:
            return self.seen_batches
        try:
            return len(self.batches)  # type: ignore[arg-type]
        except TypeError:
            return None

    def __iter__(self) -> Iterator[Batch]:
        batches = self._fresh()
        self.epochs_started += 1
        self.held_out = []
        row = count = 0
        for k, batch in enumerate(batches):
            xb, yb, wb = self._checked(batch, k)
            if self.has_validation:
                held = validation_mask(
                    np.arange(row, row + len(xb)), self.fraction, self.split_seed
                )
                row += len(xb)
                if held.any():
                    self.held_out.append((xb[held], yb[held]))
                    keep = ~held
                    xb, yb = xb[keep], yb[keep]
                    wb = None if wb is None else wb[keep]
                if len(xb) == 0:
                    continue
            count += 1
            yield (xb, yb) if wb is None else (xb, yb, wb)
        if count == 0:
            raise DataError(f"epoch {self.epochs_started}: the batches of X hold no training rows")
        self.seen_batches = count

    def _checked(self, batch: Any, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise DataError(
                f"batch {k} of X is a {type(batch).__name__}, not a tuple (X, y) or "
                "(X, y, sample_weight)"
            )
        xb = check_features(batch[0], f"batch {k}: X").astype(self.dtype, copy=False)
        yb = targets_for(check_targets(batch[1], len(xb), f"batch {k}: y"), self.dtype)
        wb = None
        if len(batch) == 3:
            wb = np.asarray(batch[2], dtype=np.float64).reshape(-1)
            if len(wb) != len(xb):
                raise DataError(
                    f"batch {k}: sample_weight has {len(wb)} entries but X has {len(xb)} rows"
                )
        return xb, yb, wb

    def validation_batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if not self.held_out:
            return iter(())
        X = np.concatenate([x for x, _ in self.held_out])
        y = np.concatenate([t for _, t in self.held_out])
        return batches_of(X, y, batch_size)
