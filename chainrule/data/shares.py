"""A data file's rows shared out among ranks: each reads only the blocks of its share.

The file's N data rows (blank lines aside; rows with a missing value included) are cut
into ``size`` contiguous shares, rank r holding rows

    [floor(N r / size), floor(N (r + 1) / size))

so the ranks' rows, end to end in rank order, are the file's rows in the file's order,
and no two shares differ by more than one row.  The file is cut into blocks (CSV: byte
ranges ending at a record's end, found by one pass that counts records without
converting a value; Parquet: its row groups); a rank parses only the blocks that hold a
row of its share, so only the (at most two) blocks at a share's edges are parsed twice.

:meth:`SharedFile.block_chunks` shares whole blocks instead (each to the rank whose row
share holds its middle row), cut into the chunks a single process reads: for output
that must be one process's to the bit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

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
from .tables import Source, Table, _stacked, collect_rows

# a CSV file is cut into at least this many blocks per rank (blocks of BLOCK_BYTES at most,
# MIN_BLOCK_BYTES at least), so a share's edges cost little of its reading
BLOCKS_PER_RANK = 4
MIN_BLOCK_BYTES = 64 << 10


def share(total: int, rank: int, size: int) -> tuple[int, int]:
    """Rank ``rank``'s rows [start, stop) of ``total``, contiguous, in rank order."""
    return total * rank // size, total * (rank + 1) // size


@dataclass(frozen=True)
class _Block:
    first_row: int  # 0-based index of its first data row in the source
    rows: int
    where: object  # CSV: (offset, length, first_line); Parquet: its RowGroup


class SharedFile:
    """A data file (CSV or Parquet) opened for reading rows by their place in it:
    ``rows`` data rows; :meth:`chunks` gives rows [start, stop) reading only the blocks
    that hold them."""

    def __init__(
        self, source: Source, columns: Columns, ranks: int = 1, block_bytes: int | None = None
    ) -> None:
        self.source, self.columns = source, columns
        self.blocks: list[_Block] = []
        if source.parquet is not None:
            for group in source.parquet.row_groups:
                self.blocks.append(_Block(group.first_row, group.rows, group))
        else:
            self._cut_csv(block_bytes or _block_bytes(source.path, ranks))
        self.rows = sum(block.rows for block in self.blocks)

    def _cut_csv(self, block_bytes: int) -> None:
        layout = self.source.csv
        assert layout is not None
        rows = 0
        with open_bytes(self.source.path) as stream:
            skip_to(stream, layout.data_start, layout.compressed)
            for raw in iter_raw_blocks(stream, layout.data_start, layout.first_line, block_bytes):
                count = count_records(raw, self.columns)
                where = (raw.offset, len(raw.data), raw.first_line)
                self.blocks.append(_Block(rows, count, where))
                rows += count

    def chunks(self, start: int, stop: int, chunk_rows: int | None = None) -> Iterator[Chunk]:
        """The data rows [start, stop) in the file's order, in chunks of at most
        ``chunk_rows`` rows (a block's rows at once if None)."""
        for block in self.blocks:
            end = block.first_row + block.rows
            if end <= start or block.first_row >= stop or block.rows == 0:
                continue
            chunk = self._read(block)
            chunk = chunk.part(max(start - block.first_row, 0), min(stop, end) - block.first_row)
            step = chunk_rows or max(len(chunk), 1)
            for first in range(0, len(chunk), step):
                yield chunk.part(first, first + step)

    def block_chunks(self, rank: int, size: int, chunk_rows: int) -> Iterator[Chunk]:
        """Whole blocks for rank ``rank`` of ``size`` (contiguous, each block to the rank
        whose row share holds its middle row), each in chunks of ``chunk_rows`` rows as
        :func:`~chainrule.data.tables.iter_chunks` cuts it (with the blocks it cuts:
        ``block_bytes=BLOCK_BYTES``), so each chunk is one a single process reads."""
        for block in self.blocks:
            middle = block.first_row + block.rows // 2
            if min(size - 1, middle * size // max(self.rows, 1)) != rank:
                continue
            if self.source.parquet is not None:
                parts = self.source.parquet.iter_group(block.where, self.columns, 1 << 16)
            else:
                parts = iter([self._read(block)])
            for part in parts:
                for first in range(0, len(part), chunk_rows):
                    yield part.part(first, first + chunk_rows)

    def _read(self, block: _Block) -> Chunk:
        if self.source.parquet is not None:
            (chunk,) = self.source.parquet.iter_group(block.where, self.columns)
            return chunk
        offset, length, first_line = block.where
        layout = self.source.csv
        assert layout is not None
        with open_bytes(self.source.path) as stream:
            skip_to(stream, offset, layout.compressed)
            data = stream.read(length)
        return parse_block(RawBlock(data, first_line, offset), self.columns, block.first_row)


def _block_bytes(path: os.PathLike, ranks: int) -> int:
    """Blocks small enough that each of ``ranks`` ranks has several to read."""
    size = os.path.getsize(path)
    return int(min(BLOCK_BYTES, max(MIN_BLOCK_BYTES, size // (BLOCKS_PER_RANK * ranks))))


def read_share(
    path: str | os.PathLike,
    target: str | None,
    rank: int,
    size: int,
    feature_names: Sequence[str] | None = None,
    drop_missing: bool = False,
    na_values: Iterable[str] | None = None,
) -> tuple[Table, int]:
    """Rank ``rank``'s share of the file as :func:`~chainrule.data.tables.read_table`
    reads the whole (rows with a missing value dropped if ``drop_missing``, else an
    error naming the cell), and the file's number of data rows.  A share may be empty
    (its arrays then have no rows)."""
    source = Source(path)
    columns = source.columns(target, feature_names, na_values=na_values, allow_missing=drop_missing)
    shared = SharedFile(source, columns, size)
    start, stop = share(shared.rows, rank, size)
    features: list = []
    targets, dropped, lines = collect_rows(shared.chunks(start, stop), features)
    width = len(columns.features)
    table = Table(
        feature_names=columns.feature_names,
        target_name=target,
        features=_stacked(features) if features else np.empty((0, width)),
        target=np.concatenate(targets) if targets else np.empty(0, dtype=object),
        dropped_lines=dropped,
        lines=np.concatenate(lines) if lines else np.empty(0, dtype=np.int64),
        unit=source.unit,
    )
    return table, shared.rows
