"""Block readers: a data file as numbered blocks, each read on its own, in any order, for
training on data bigger than memory.

* CSV (``.csv``, ``.csv.gz``): one pass cuts the file into blocks of about 8 MB at line
  ends outside quotes and counts their rows; a block is then a byte range parsed by Arrow
  with the known column names.  (A ``.csv.gz`` block is found again by decompressing from
  the start: use plain CSV or Parquet for many passes over a large file.)
* Parquet (a file or a folder): a block is a row group.

:func:`statistics` makes one pass over the blocks for what training needs first: the row
count, each feature's mean and standard deviation, and the labels with their counts
(and how many rows with a missing value were dropped).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .chunk import Chunk, Columns
from .csv_blocks import (
    BLOCK_BYTES,
    RawBlock,
    count_records,
    iter_raw_blocks,
    open_bytes,
    parse_block,
    skip_to,
)
from .errors import DataFileError
from .tables import Source


@runtime_checkable
class BlockReader(Protocol):
    """``n_blocks`` blocks of rows with features ``feature_names``; ``read_block(i)``
    gives (features float64 (n, d), raw target values (n,) as read, each row's 0-based
    index among the data rows (n,) int64)."""

    n_blocks: int
    feature_names: list[str]

    def read_block(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class _CsvBlock:
    offset: int
    length: int
    first_line: int
    first_row: int


class _Reader:
    """What both readers share: the source, the columns, dropping rows with a missing
    value (``drop_missing``) or refusing them, as :func:`~chainrule.data.tables.read_table`
    does."""

    def __init__(
        self,
        path: str | os.PathLike,
        target: str,
        feature_names: Sequence[str] | None,
        drop_missing: bool,
        na_values: Iterable[str] | None,
    ) -> None:
        self.source = Source(path)
        self.columns: Columns = self.source.columns(
            target, feature_names, na_values=na_values, allow_missing=drop_missing
        )
        self.feature_names = self.columns.feature_names

    #: the rows with a missing value the last :meth:`read_block` dropped
    last_dropped: int = 0
    #: a block may be read in another thread than the caller's, one read at a time
    #: (chainrule.data.streaming.read_ahead): nothing a read uses is tied to a thread
    background_reads = True

    def read_block(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._arrays(self.read_chunk(i))

    def in_order(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``read_block(0)``, ``read_block(1)``, ...: every block in the file's order."""
        for i in range(self.n_blocks):
            yield self.read_block(i)

    def _arrays(self, chunk: Chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A chunk's features, target and row indices, its rows with a missing value
        left out (counted in ``last_dropped``)."""
        assert chunk.target is not None and chunk.rows is not None
        self.last_dropped = int(chunk.missing.sum())
        if not self.last_dropped:
            return chunk.features, chunk.target, chunk.rows
        keep = ~chunk.missing
        return chunk.features[keep], chunk.target[keep], chunk.rows[keep]

    def read_chunk(self, i: int) -> Chunk:
        raise NotImplementedError

    def where(self, i: int, k: int) -> tuple[str, str]:
        """Where row ``k`` of block ``i`` (as :meth:`read_block` gives it) is: its file
        and "line 17" (CSV) or "row 17" (Parquet), for a message."""
        chunk = self.read_chunk(i)
        lines = chunk.lines[~chunk.missing]
        return str(chunk.source or self.source.path), f"{chunk.unit} {int(lines[k])}"

    def _check(self, i: int) -> None:
        if not 0 <= i < self.n_blocks:
            raise IndexError(f"{self.source.path}: no block {i}; there are {self.n_blocks}")

    n_blocks: int = 0


class CsvBlockReader(_Reader):
    """A CSV file's blocks: byte ranges cut at record ends.  They are found by one pass
    over the file, made when first needed: by :meth:`in_order`, which parses each block
    on the way (the statistics pass), or else by counting each block's records."""

    def __init__(
        self,
        path: str | os.PathLike,
        target: str,
        feature_names: Sequence[str] | None = None,
        drop_missing: bool = False,
        na_values: Iterable[str] | None = None,
        block_bytes: int = BLOCK_BYTES,
    ) -> None:
        super().__init__(path, target, feature_names, drop_missing, na_values)
        layout = self.source.csv
        assert layout is not None
        self.layout, self.block_bytes = layout, block_bytes
        self._blocks: list[_CsvBlock] | None = None

    @property
    def blocks(self) -> list[_CsvBlock]:
        if self._blocks is None:
            blocks = []
            rows = 0
            for raw in self._raw_blocks():
                blocks.append(_CsvBlock(raw.offset, len(raw.data), raw.first_line, rows))
                rows += count_records(raw, self.columns)
            self._blocks = blocks
        return self._blocks

    @property  # type: ignore[override]
    def n_blocks(self) -> int:
        return len(self.blocks)

    def _raw_blocks(self) -> Iterator[RawBlock]:
        layout = self.layout
        with open_bytes(self.source.path) as stream:
            skip_to(stream, layout.data_start, layout.compressed)
            yield from iter_raw_blocks(
                stream, layout.data_start, layout.first_line, self.block_bytes
            )

    def in_order(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Every block in the file's order, in one pass over it (``read_block(i)`` for
        each i would reach each block from the start: for a gzip stream, by
        decompressing everything before it)."""
        blocks = []
        rows = 0
        for raw in self._raw_blocks():
            chunk = parse_block(raw, self.columns, rows)
            blocks.append(_CsvBlock(raw.offset, len(raw.data), raw.first_line, rows))
            rows += len(chunk)
            yield self._arrays(chunk)
        self._blocks = blocks

    def read_chunk(self, i: int) -> Chunk:
        self._check(i)
        block = self.blocks[i]
        with open_bytes(self.source.path) as stream:
            skip_to(stream, block.offset, self.layout.compressed)
            data = stream.read(block.length)
        raw = RawBlock(data, block.first_line, block.offset)
        return parse_block(raw, self.columns, block.first_row)


class ParquetBlockReader(_Reader):
    def __init__(
        self,
        path: str | os.PathLike,
        target: str,
        feature_names: Sequence[str] | None = None,
        drop_missing: bool = False,
        na_values: Iterable[str] | None = None,
    ) -> None:
        super().__init__(path, target, feature_names, drop_missing, na_values)
        assert self.source.parquet is not None
        self.parquet = self.source.parquet
        self.n_blocks = len(self.parquet.row_groups)

    def read_chunk(self, i: int) -> Chunk:
        self._check(i)
        (chunk,) = self.parquet.iter_group(self.parquet.row_groups[i], self.columns)
        return chunk


def open_block_reader(
    path: str | os.PathLike,
    target: str,
    feature_names: Sequence[str] | None = None,
    drop_missing: bool = False,
    na_values: Iterable[str] | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> CsvBlockReader | ParquetBlockReader:
    """A block reader for a CSV or Parquet file (or folder of Parquet files); a CSV file's
    blocks are about ``block_bytes`` long (a Parquet file's are its row groups)."""
    if Source(path).parquet:
        return ParquetBlockReader(path, target, feature_names, drop_missing, na_values)
    return CsvBlockReader(path, target, feature_names, drop_missing, na_values, block_bytes)


def blocks_in_order(reader: BlockReader) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every block of ``reader`` in order: its ``in_order()`` when it has one (one pass
    over a file, where a gzip stream reaches a block only by decompressing from its
    start), else ``read_block(0)``, ``read_block(1)``, ..."""
    in_order = getattr(reader, "in_order", None)
    if in_order is not None:
        return in_order()
    return (reader.read_block(i) for i in range(reader.n_blocks))


#: distinct target values :func:`statistics` counts before it stops (too many for classes)
MAX_LABELS = 1 << 16


@dataclass
class Statistics:
    """One pass over a data set: rows, each feature's mean and (population) standard
    deviation, each label with its count (raw values, as read; None when there are more
    than :data:`MAX_LABELS` distinct values), and the target's mean and (population)
    standard deviation when every value reads as a number (``np.asarray(.., float64)``,
    as in memory), else ``not_a_number``: the first value that does not, as (block,
    position in the block, global row, value)."""

    rows: int
    mean: np.ndarray
    std: np.ndarray
    labels: dict[Any, int] | None = field(default_factory=dict)
    target_mean: float | None = None
    target_std: float | None = None
    not_a_number: tuple[int, int, int, Any] | None = None
    dropped: int = 0  # rows with a missing value left out (when the reader drops them)


class _Moments:
    """Count, mean and sum of squared deviations, merged block by block (Chan et al.)."""

    def __init__(self, width: int) -> None:
        self.n, self.mean, self.m2 = 0, np.zeros(width), np.zeros(width)

    def add(self, values: np.ndarray) -> None:
        n_b = len(values)
        mean_b = values.mean(axis=0)
        m2_b = ((values - mean_b) ** 2).sum(axis=0)
        if self.n == 0:  # the merge's last term would be 0, or NaN (inf * 0) if delta**2 overflows
            self.n, self.mean, self.m2 = n_b, self.mean + mean_b, self.m2 + m2_b
            return
        total = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / total)
        self.m2 = self.m2 + m2_b + delta**2 * (self.n * n_b / total)
        self.n = total

    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.n)


def first_not_a_number(target: np.ndarray) -> int:
    for k, value in enumerate(np.asarray(target, dtype=object).reshape(-1)):
        try:
            float(value)
        except (TypeError, ValueError):
            return k
    return 0


def statistics(
    reader: BlockReader, check: Any = None, wanted: np.ndarray | None = None
) -> Statistics:
    """Row count, per-feature mean and standard deviation, label counts and the target's
    mean and deviation, in one pass (``check()``, if given, runs after each block: a
    place to act on a deferred Ctrl-C), of every row or, with ``wanted`` (booleans by
    row index), of the rows it marks.

    Each block gives its count n_b, mean m_b and sum of squared deviations
    M2_b = sum (x - m_b)^2 (two passes over the block, in float64).  Blocks merge by Chan
    et al.'s rule: with delta = m_b - m_a and n = n_a + n_b,
    m = m_a + delta * n_b / n and M2 = M2_a + M2_b + delta^2 * n_a * n_b / n;
    the standard deviation is sqrt(M2 / n).  No sum of squares of raw values is ever
    formed, so a large mean does not cancel the variance away.  (With one block this is
    NumPy's ``mean`` and ``std`` to the bit.)
    """
    features_moments = _Moments(len(reader.feature_names))
    target_moments: _Moments | None = _Moments(1)
    labels: Counter | None = Counter()
    not_a_number = None
    dropped = 0
    for i, (features, target, rows) in enumerate(blocks_in_order(reader)):
        dropped += getattr(reader, "last_dropped", 0)
        if check is not None:
            check()
        positions = None  # each row's position in the block as read, when some are left out
        if wanted is not None:
            positions = np.flatnonzero(wanted[rows])
            features, target, rows = features[positions], target[positions], rows[positions]
        if len(features) == 0:
            continue
        features_moments.add(features)
        if labels is not None:
            values, counts = np.unique(np.asarray(target), return_counts=True)
            labels.update(dict(zip(values.tolist(), counts.tolist(), strict=True)))
            if len(labels) > MAX_LABELS:
                labels = None
        if target_moments is not None:
            try:
                numbers = np.asarray(target, dtype=np.float64)
            except (TypeError, ValueError):
                k = first_not_a_number(target)
                value = np.asarray(target).reshape(-1)[k]
                row = int(rows[k])
                not_a_number = (i, k if positions is None else int(positions[k]), row, value)
                target_moments = None
            else:
                target_moments.add(numbers.reshape(-1))
    n = features_moments.n
    if n == 0:
        source = getattr(getattr(reader, "source", None), "path", "the data")
        what = "no data rows"
        if dropped:
            what = "no rows left after dropping those with missing values"
        raise DataFileError(f"{source}: {what}")
    statistics = Statistics(
        n,
        features_moments.mean,
        features_moments.std(),
        None if labels is None else dict(labels),
        not_a_number=not_a_number,
        dropped=dropped,
    )
    if target_moments is not None:
        statistics.target_mean = float(target_moments.mean[0])
        statistics.target_std = float(target_moments.std()[0])
    return statistics
