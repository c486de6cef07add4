"""Block readers: a data file as numbered blocks, each read on its own, in any order, for
training on data bigger than memory.

* CSV (``.csv``, ``.csv.gz``): one pass cuts the file into blocks of about 8 MB at line
  ends outside quotes and counts their rows; a block is then a byte range parsed by Arrow
  with the known column names.  (A ``.csv.gz`` block is found again by decompressing from
  the start: use plain CSV or Parquet for many passes over a large file.)
* Parquet (a file or a folder): a block is a row group.

:func:`statistics` makes one pass over the blocks for what training needs first: the row
count, each feature's mean and standard deviation, and the labels with their counts.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
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

    @staticmethod
    def _arrays(chunk: Chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        keep = ~chunk.missing
        assert chunk.target is not None and chunk.rows is not None
        if keep.all():
            return chunk.features, chunk.target, chunk.rows
        return chunk.features[keep], chunk.target[keep], chunk.rows[keep]

    def _check(self, i: int) -> None:
        if not 0 <= i < self.n_blocks:
            raise IndexError(f"{self.source.path}: no block {i}; there are {self.n_blocks}")

    n_blocks: int = 0


class CsvBlockReader(_Reader):
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
        self.layout = layout
        self.blocks: list[_CsvBlock] = []
        rows = 0
        with open_bytes(self.source.path) as stream:
            _skip(stream, layout.data_start, layout.compressed)
            for raw in iter_raw_blocks(stream, layout.data_start, layout.first_line, block_bytes):
                self.blocks.append(_CsvBlock(raw.offset, len(raw.data), raw.first_line, rows))
                rows += count_records(raw, self.columns)
        self.n_blocks = len(self.blocks)

    def read_block(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._check(i)
        block = self.blocks[i]
        with open_bytes(self.source.path) as stream:
            _skip(stream, block.offset, self.layout.compressed)
            data = stream.read(block.length)
        raw = RawBlock(data, block.first_line, block.offset)
        return self._arrays(parse_block(raw, self.columns, block.first_row))


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

    def read_block(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._check(i)
        (chunk,) = self.parquet.iter_group(self.parquet.row_groups[i], self.columns)
        return self._arrays(chunk)


def _skip(stream: Any, offset: int, compressed: bool) -> None:
    if compressed:
        while offset > 0:  # gzip streams seek forward by decompressing
            offset -= len(stream.read(min(offset, BLOCK_BYTES)))
    else:
        stream.seek(offset)


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


@dataclass
class Statistics:
    """One pass over a data set: rows, each feature's mean and (population) standard
    deviation, and each label with its count (raw values, as read)."""

    rows: int
    mean: np.ndarray
    std: np.ndarray
    labels: dict[Any, int] = field(default_factory=dict)


def statistics(reader: BlockReader) -> Statistics:
    """Row count, per-feature mean and standard deviation, and label counts, in one pass.

    Each block gives its count n_b, mean m_b and sum of squared deviations
    M2_b = sum (x - m_b)^2 (two passes over the block, in float64).  Blocks merge by Chan
    et al.'s rule: with delta = m_b - m_a and n = n_a + n_b,
    m = m_a + delta * n_b / n and M2 = M2_a + M2_b + delta^2 * n_a * n_b / n;
    the standard deviation is sqrt(M2 / n).  No sum of squares of raw values is ever
    formed, so a large mean does not cancel the variance away.
    """
    width = len(reader.feature_names)
    n, mean, m2 = 0, np.zeros(width), np.zeros(width)
    labels: Counter = Counter()
    for i in range(reader.n_blocks):
        features, target, _ = reader.read_block(i)
        n_b = len(features)
        if n_b == 0:
            continue
        mean_b = features.mean(axis=0)
        m2_b = ((features - mean_b) ** 2).sum(axis=0)
        total = n + n_b
        delta = mean_b - mean
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta**2 * (n * n_b / total)
        n = total
        values, counts = np.unique(np.asarray(target), return_counts=True)
        labels.update(dict(zip(values.tolist(), counts.tolist(), strict=True)))
    if n == 0:
        source = getattr(getattr(reader, "source", None), "path", "the data")
        raise DataFileError(f"{source}: no data rows")
    return Statistics(n, mean, np.sqrt(m2 / n), dict(labels))
