"""Training on a table bigger than memory: blocks from a reader through a shuffle buffer.

Each epoch (with ``shuffle=True``):

1. the blocks are visited in a new random order (one permutation of the block indices
   per epoch, from the seed; none is drawn for a single block);
2. each block is read (``reader.read_block``), passed through ``transform`` (the caller's
   standardisation and label encoding), its validation rows are set aside (the row rule
   of ``rows.py``, on the global row index) and the rest is appended to a pool;
3. when the pool holds more than ``buffer_rows`` rows it is permuted (a draw from the
   seed), and full batches are taken from its front until ``buffer_rows // 2`` rows are
   left: those, a random half, stay to be mixed with the next block;
4. after the last block the pool is permuted once more and emptied, the last batch
   possibly smaller.

So memory holds at most ``buffer_rows`` plus one block of rows (in the model's dtype)
plus the block being read (in a background thread, while the batches before it train:
:func:`read_ahead`), whatever the size of the table, and every training row is in
exactly one batch per epoch.  With a single block and ``buffer_rows`` at least the number
of rows (and no validation split), step 3 never happens and step 4 is one permutation of
all rows, the very draw ``ArraySource`` makes from the same seed: the batches, and the
trained weights, are those of training on the arrays in memory, bit for bit.  With more
blocks the order differs from any in-memory shuffle; it is reproducible from the seed.

``shuffle=False`` reads the blocks in order and batches the rows as they come.

Validation rows (``validation_split``) are gathered during the first epoch and kept when
they number at most ``buffer_rows``; otherwise the validation batches are read again,
block by block, each time they are asked for.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from ..nn.init import RandomSource, as_generator
from .checks import DataError
from .rows import check_fraction, validation_mask
from .sources import Batch, BlockReader, batches_of, targets_for

#: rows the shuffle buffer holds unless told otherwise (at 20 float32 features, 5 MB)
DEFAULT_BUFFER_ROWS = 1 << 16

T = TypeVar("T")


def read_ahead(read: Callable[[int], T], blocks: Iterable[int]) -> Iterator[T]:
    """``read(i)`` for each block ``i`` in turn, the next block read in a background
    thread while the caller trains on the current one.  Reading (Arrow's CSV parser,
    Parquet's decoder, a Dask partition's compute) spends its time outside the GIL, so
    it overlaps with training instead of adding to it; memory holds one block more.
    The blocks are read one at a time, in the order given, each in a copy of the
    caller's context (``contextvars``: NumPy's error state, Dask's current client), so
    the results (and any error, raised when its block is reached) are those of reading
    them in the loop."""
    blocks = list(blocks)
    if len(blocks) < 2:
        yield from map(read, blocks)
        return
    context = contextvars.copy_context()

    def submit(i: int) -> Future[T]:
        return pool.submit(context.copy().run, read, i)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chainrule-read-ahead") as pool:
        pending = submit(blocks[0])
        try:
            for following in blocks[1:]:
                current = pending.result()
                pending = submit(following)
                yield current
            yield pending.result()
        finally:  # the caller stopped early: the block being read is waited for
            pending.cancel()


Transform = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class StreamingSource:
    """Batches from a :class:`~chainrule.data.sources.BlockReader` (see the module's
    docstring for the order).

    Args:
        transform: ``(features, raw_target) -> (features, target)`` applied to each block
            as read, e.g. standardisation by the caller's mean and deviation and label
            encoding by the caller's classes; without it the target must be numeric.
        buffer_rows: the shuffle buffer's size in rows (memory is bounded by it plus a
            block).
        split_seed: the validation rule's seed (``rows.validation_mask``); the seed of
            the shuffles when not given and ``seed`` is an integer, else 0.
        read_ahead: read the next block in a background thread (:func:`read_ahead`);
            by default when the reader says its ``read_block`` may run in another
            thread (a class attribute ``background_reads = True``, as chainrule's CSV,
            Parquet and Dask readers have): a reader tied to its thread (an sqlite
            connection, say) is read in the caller's.
    """

    def __init__(
        self,
        reader: BlockReader,
        batch_size: int = 32,
        buffer_rows: int = DEFAULT_BUFFER_ROWS,
        shuffle: bool = True,
        seed: RandomSource = None,
        transform: Transform | None = None,
        validation_split: float = 0.0,
        split_seed: int | None = None,
        dtype: Any = np.float32,
        read_ahead: bool | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if buffer_rows < 1:
            raise ValueError(f"buffer_rows must be at least 1, got {buffer_rows}")
        if int(reader.n_blocks) < 1:
            raise DataError(f"the reader has no blocks ({type(reader).__name__}.n_blocks == 0)")
        self.reader, self.transform = reader, transform
        if read_ahead is None:  # readers that allow it say so (background_reads)
            read_ahead = bool(getattr(reader, "background_reads", False))
        self.read_ahead = read_ahead
        self.batch_size, self.buffer_rows = int(batch_size), int(buffer_rows)
        self.shuffle, self.dtype = shuffle, np.dtype(dtype)
        if split_seed is None:
            split_seed = int(seed) if isinstance(seed, (int, np.integer)) else 0
        self.rng = as_generator(seed)
        self.fraction, self.split_seed = check_fraction(validation_split), int(split_seed)
        self.has_validation = self.fraction > 0
        self.rows_read = self.blocks_read = 0
        self.epoch_batches: int | None = None
        self.held_out: tuple[np.ndarray, np.ndarray] | None = None
        self._gathering: list[tuple[int, np.ndarray, np.ndarray]] | None = None
        self._gathered_rows = 0

    def _blocks(self, read: Callable[[int], T], blocks: Iterable[int]) -> Iterator[T]:
        """``read(i)`` for each block in turn, read ahead if the reader allows it."""
        return read_ahead(read, blocks) if self.read_ahead else map(read, blocks)

    @property
    def feature_names(self) -> list[str]:
        return list(self.reader.feature_names)

    # reading --------------------------------------------------------------------------
    def _read(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Block i, transformed and cast: (features, target, rows), checked."""
        features, target, rows = self.reader.read_block(int(i))
        if self.transform is not None:
            features, target = self.transform(features, target)
        features, target = np.asarray(features), np.asarray(target)
        rows = np.asarray(rows)
        if features.ndim != 2 or not (len(features) == len(target) == len(rows)):
            raise DataError(
                f"block {i}: features of shape {features.shape}, {len(target)} targets and "
                f"{len(rows)} row indices do not match"
            )
        if target.dtype.kind not in "fiub":
            raise DataError(
                f"block {i}: the target holds {target.dtype} values; pass a transform that "
                "encodes the labels as numbers"
            )
        features = features.astype(self.dtype, copy=False)
        if not np.isfinite(features.sum()):
            r, c = (int(k) for k in np.argwhere(~np.isfinite(features))[0])
            raise DataError(
                f"block {i}: row {int(rows[r])}, column {c} holds {features[r, c]}; "
                "remove or impute missing values first"
            )
        if target.dtype.kind == "f" and not np.isfinite(target).all():
            r = int(np.flatnonzero(~np.isfinite(target))[0])
            raise DataError(f"block {i}: the target of row {int(rows[r])} is {target[r]}")
        self.rows_read += len(rows)
        self.blocks_read += 1
        return features, targets_for(target, self.dtype), rows

    def _training_block(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        features, target, rows = self._read(i)
        if not self.has_validation:
            return features, target
        held = validation_mask(rows, self.fraction, self.split_seed)
        if self._gathering is not None and held.any():
            self._gathering.append((i, features[held], target[held]))
            self._gathered_rows += int(held.sum())
            if self._gathered_rows > self.buffer_rows:
                self._gathering = None  # too many to keep: read them again when asked
        keep = ~held
        return features[keep], target[keep]

    # the epoch ------------------------------------------------------------------------
    def expected_batches(self) -> int | None:
        """The last epoch's count; during the first, an estimate from the rows read so
        far (the mean block's rows times the blocks, less the validation share)."""
        if self.epoch_batches is not None:
            return self.epoch_batches
        if self.blocks_read == 0:
            return None
        rows = self.rows_read / self.blocks_read * self.reader.n_blocks * (1 - self.fraction)
        return max(1, -(-int(rows) // self.batch_size))

    def __iter__(self) -> Iterator[Batch]:
        first_epoch = self.epoch_batches is None
        if first_epoch and self.has_validation:
            self._gathering, self._gathered_rows = [], 0
        n_blocks = int(self.reader.n_blocks)
        if self.shuffle and n_blocks > 1:
            order = self.rng.permutation(n_blocks)
        else:
            order = np.arange(n_blocks)
        size, keep = self.batch_size, self.buffer_rows // 2
        pool_X: np.ndarray | None = None
        pool_y: np.ndarray | None = None
        count = 0
        for X, y in self._blocks(self._training_block, [int(i) for i in order]):
            if pool_X is None or len(pool_X) == 0:
                pool_X, pool_y = X, y
            else:
                pool_X, pool_y = np.concatenate([pool_X, X]), np.concatenate([pool_y, y])
            if not self.shuffle:
                n_out = len(pool_X) // size * size
            elif len(pool_X) > self.buffer_rows:
                permutation = self.rng.permutation(len(pool_X))
                pool_X, pool_y = pool_X[permutation], pool_y[permutation]
                n_out = (len(pool_X) - keep) // size * size
            else:
                continue
            for start in range(0, n_out, size):
                count += 1
                yield pool_X[start : start + size], pool_y[start : start + size]
            pool_X, pool_y = pool_X[n_out:], pool_y[n_out:]
        if pool_X is not None and len(pool_X):
            if self.shuffle:
                permutation = self.rng.permutation(len(pool_X))
                pool_X, pool_y = pool_X[permutation], pool_y[permutation]
            for start in range(0, len(pool_X), size):
                count += 1
                yield pool_X[start : start + size], pool_y[start : start + size]
        if count == 0:
            raise DataError("the reader's blocks hold no training rows")
        if first_epoch and self._gathering is not None:
            # in block order, as a second pass would read them
            gathered = sorted(self._gathering, key=lambda part: part[0])
            self.held_out = (
                (
                    np.concatenate([x for _, x, _ in gathered]),
                    np.concatenate([t for *_, t in gathered]),
                )
                if gathered
                else None
            )
        self._gathering = None
        self.epoch_batches = count

    def validation_batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The held-out rows: those kept from the first epoch, else a pass over the blocks
        in order."""
        if not self.has_validation:
            return
        if self.held_out is not None:
            yield from batches_of(*self.held_out, batch_size)
            return
        for features, target, rows in self._blocks(self._read, range(int(self.reader.n_blocks))):
            held = validation_mask(rows, self.fraction, self.split_seed)
            if held.any():
                yield from batches_of(features[held], target[held], batch_size)
