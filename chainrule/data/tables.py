"""Tables of numeric features (and a target that may be text) from CSV (``.csv``,
``.csv.gz``) and Parquet (a ``.parquet`` file or a folder of them), in chunks, with errors
that name the file, the column and the line (CSV) or row (Parquet).

One code path serves training (read everything), evaluation and streaming prediction
(chunk by chunk, so memory stays bounded on large files): :func:`iter_chunks`.
Missing values are described in :mod:`chainrule.data.missing`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io.interrupts import deferred_interrupts
from .chunk import Chunk, Columns
from .csv_blocks import (
    BLOCK_BYTES,
    CsvLayout,
    iter_raw_blocks,
    open_bytes,
    parse_block,
    read_layout,
)
from .errors import CsvError, DataFileError, shown
from .missing import MissingValues
from .parquet_blocks import MAGIC, SUFFIXES, ParquetSource

CHUNK_ROWS = 8192
# read_table's CSV blocks: Arrow's memory for a block (its parser's buffers, retained by
# the allocators) is many times the block, and a table read whole gains no speed from
# larger ones; predict keeps BLOCK_BYTES (its output's bits follow its batches)
TABLE_BLOCK_BYTES = 512 << 10

__all__ = [
    "CHUNK_ROWS",
    "Chunk",
    "CsvError",
    "DataFileError",
    "Table",
    "check_columns_exist",
    "iter_chunks",
    "numbers_of",
    "read_header",
    "read_table",
    "resolve_columns",
]


@dataclass
class Table:
    feature_names: list[str]
    target_name: str | None
    features: np.ndarray
    target: np.ndarray | None
    dropped_lines: list[int]
    lines: np.ndarray | None = None  # each kept row's line (CSV) or row (Parquet) in its file
    unit: str = "line"

    def numeric_target(self, path: str | os.PathLike, why: str) -> np.ndarray:
        """The target column as numbers, or a DataFileError naming the file, the column,
        the first value that is not a number and its line, and ``why`` a number is needed."""
        assert self.target is not None and self.lines is not None
        return numbers_of(self.target, self.lines, self.unit, path, str(self.target_name), why)


def numbers_of(
    values: np.ndarray, lines: np.ndarray, unit: str, path: str | os.PathLike, column: str, why: str
) -> np.ndarray:
    """A column's ``values`` as float64, or a DataFileError naming the file, the column,
    the first value that is not a number and its line (``unit`` "line" or "row", from
    ``lines``), and ``why`` a number is needed."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        pass
    for value, line in zip(values, lines, strict=True):
        try:
            float(value)
        except (TypeError, ValueError):
            raise DataFileError(
                f"{path}: column '{column}' holds '{shown(value)}' at {unit} {line}, which is "
                f"not a number; {why}"
            ) from None
    raise DataFileError(f"{path}: cannot read column '{column}' as numbers")


def is_parquet(path: Path) -> bool:
    """A folder, a file named .parquet (.parq, .pq), or a file starting with Parquet's magic."""
    if path.is_dir() or path.suffix in SUFFIXES:
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(4) == MAGIC
    except OSError:
        return False


def _checked(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{path}: no such file")
    if not (path.is_file() or path.is_dir()):
        # opening a pipe a second time would wait for a writer that never comes
        raise DataFileError(
            f"{path}: is not a regular file (a pipe or a device); chainrule reads a data "
            "file more than once (its header, its rows): save the data to a file first"
        )
    if path.is_dir() and not any(p.suffix in SUFFIXES for p in path.iterdir()):
        raise DataFileError(f"{path}: is a folder, not a CSV file nor a folder of Parquet files")
    return path


class Source:
    """A data file opened for reading: its header, and its rows chunk by chunk."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = _checked(path)
        self.parquet: ParquetSource | None = None
        self.csv: CsvLayout | None = None
        if is_parquet(self.path):
            self.parquet = ParquetSource(self.path)
            self.header = self.parquet.header
        else:
            self.csv = read_layout(self.path)
            self.header = self.csv.header
        self.unit = "row" if self.parquet else "line"

    def columns(
        self,
        target: str | None,
        feature_names: Sequence[str] | None,
        ignore: Sequence[str] = (),
        keep: Sequence[str] = (),
        na_values: Iterable[str] | None = None,
        allow_missing: bool = False,
    ) -> Columns:
        check_columns_exist(self.path, self.header, keep, "to keep")
        features, target_index = resolve_columns(
            self.path, self.header, target, feature_names, [*ignore, *keep]
        )
        columns = Columns(
            self.path,
            self.header,
            features,
            target_index,
            [self.header.index(name) for name in keep],
            MissingValues.of(na_values),
            allow_missing,
        )
        if self.parquet:
            self.parquet.check_types(columns)
        return columns

    def row_bound(self) -> int | None:
        """At least as many as the data rows, found without parsing them: Parquet's row
        count, or an uncompressed CSV file's line ends after the header plus one (a
        count at memory speed); None for a compressed CSV file (a second decompression
        would cost more than it saves)."""
        if self.parquet:
            return self.parquet.num_rows
        layout = self.csv
        assert layout is not None
        if layout.compressed:
            return None
        with self.path.open("rb") as stream:
            stream.seek(layout.data_start)
            return 1 + sum(piece.count(b"\n") for piece in iter(lambda: stream.read(1 << 20), b""))

    def chunks(self, columns: Columns, block_bytes: int = BLOCK_BYTES) -> Iterator[Chunk]:
        """Every row, in the file's order, in blocks of bounded size (CSV: of about
        ``block_bytes``)."""
        if self.parquet:
            for group in self.parquet.row_groups:
                yield from self.parquet.iter_group(group, columns, batch_rows=1 << 16)
            return
        layout = self.csv
        assert layout is not None
        with open_bytes(self.path) as stream:
            if layout.compressed:
                stream.read(layout.data_start)
            else:
                stream.seek(layout.data_start)
            done = 0
            for raw in iter_raw_blocks(stream, layout.data_start, layout.first_line, block_bytes):
                chunk = parse_block(raw, columns, done)
                done += len(chunk)
                yield chunk


def read_header(path: str | os.PathLike) -> list[str]:
    return Source(path).header


def check_columns_exist(path: Path, header: list[str], names: Sequence[str], role: str) -> None:
    """A DataFileError naming every column of ``names`` the file lacks, and the columns it
    has; ``role`` says what they were named for (e.g. "to keep")."""
    unknown = [name for name in names if name not in header]
    if unknown:
        raise DataFileError(
            f"{path}: no column {', '.join(repr(n) for n in unknown)} {role}; "
            f"the columns are: {', '.join(header)}"
        )


def resolve_columns(
    path: Path,
    header: list[str],
    target: str | None,
    feature_names: Sequence[str] | None,
    ignore: Sequence[str] = (),
) -> tuple[list[int], int | None]:
    """Indices of the feature columns (in ``feature_names`` order when given, else every
    column but the target) and of the target column."""
    if target is not None and target not in header:
        raise DataFileError(f"{path}: no column '{target}'; the columns are: {', '.join(header)}")
    target_index = header.index(target) if target is not None else None
    if feature_names is None:
        features = [i for i, name in enumerate(header) if i != target_index]
        if not features:
            raise DataFileError(f"{path}: no feature columns besides the target '{target}'")
        return features, target_index
    missing = [name for name in feature_names if name not in header]
    if missing:
        raise DataFileError(f"{path}: missing the model's feature columns: {', '.join(missing)}")
    allowed = set(feature_names) | ({target} if target else set()) | set(ignore)
    extra = [name for name in header if name not in allowed]
    if extra:
        raise DataFileError(
            f"{path}: columns the model was not trained on: {', '.join(extra)} "
            f"(its features are: {', '.join(feature_names)})"
        )
    return [header.index(name) for name in feature_names], target_index


def iter_chunks(
    path: str | os.PathLike,
    target: str | None = None,
    feature_names: Sequence[str] | None = None,
    allow_missing: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    ignore: Sequence[str] = (),
    keep: Sequence[str] = (),
    na_values: Iterable[str] | None = None,
) -> Iterator[tuple[list[str], Chunk]]:
    """Yield (feature names, Chunk) for successive blocks of at most ``chunk_rows`` rows.

    Non-numeric feature values are an error naming the column and line; missing values
    are an error too, unless ``allow_missing``, when such rows are flagged in
    ``Chunk.missing`` (features NaN) for the caller to drop or skip.  Columns named in
    ``ignore`` may be present and are not read; the cells of the columns named in ``keep``
    (which must be present) are passed through as they are in ``Chunk.kept``.
    """
    source = Source(path)
    columns = source.columns(target, feature_names, ignore, keep, na_values, allow_missing)
    names = columns.feature_names
    for chunk in source.chunks(columns):
        for start in range(0, len(chunk), chunk_rows):
            yield names, chunk.part(start, start + chunk_rows)


def collect_rows(chunks: Iterable[Chunk], features: Any) -> tuple[list, list[int], list]:
    """Each chunk's rows without a missing value: their features appended to ``features``
    (a list, or anything with ``append``), and, chunk by chunk, their targets and lines;
    also the lines of the rows dropped.  Ctrl-C acts between chunks."""
    targets: list = []
    dropped: list[int] = []
    lines: list = []
    with deferred_interrupts() as check_interrupts:
        for chunk in chunks:
            check_interrupts()
            keep = ~chunk.missing
            dropped.extend(int(line) for line in chunk.lines[chunk.missing])
            features.append(chunk.features[keep] if chunk.missing.any() else chunk.features)
            lines.append(chunk.lines[keep])
            if chunk.target is not None:
                targets.append(chunk.target[keep])
    return targets, dropped, lines


def read_table(
    path: str | os.PathLike,
    target: str | None,
    feature_names: Sequence[str] | None = None,
    drop_missing: bool = False,
    na_values: Iterable[str] | None = None,
) -> Table:
    """The whole file as arrays; rows with missing values are dropped if ``drop_missing``."""
    source = Source(path)
    columns = source.columns(target, feature_names, na_values=na_values, allow_missing=drop_missing)
    features = _FeatureRows(len(columns.features), source.row_bound())
    targets, dropped, lines = collect_rows(source.chunks(columns, TABLE_BLOCK_BYTES), features)
    if features.rows == 0:
        what = (
            "no rows left after dropping those with missing values" if dropped else "no data rows"
        )
        raise DataFileError(f"{source.path}: {what}")
    return Table(
        feature_names=columns.feature_names,
        target_name=target,
        features=features.matrix(),
        target=np.concatenate(targets) if targets else None,
        dropped_lines=dropped,
        lines=np.concatenate(lines),
        unit=source.unit,
    )


class _FeatureRows:
    """The feature matrix (float64) filled block by block: written into its place when
    the row count is bounded beforehand (a bound too high costs address space, not
    memory: rows never written are pages never touched), else stacked at the end."""

    def __init__(self, width: int, bound: int | None) -> None:
        self.rows = 0
        self.out = None if bound is None else np.empty((bound, width), dtype=np.float64)
        self.blocks: list[np.ndarray] = []

    def append(self, block: np.ndarray) -> None:
        if self.out is not None and self.rows + len(block) > len(self.out):
            self.blocks, self.out = [self.out[: self.rows]], None  # not a bound after all
        if self.out is None:
            self.blocks.append(block)
        else:
            self.out[self.rows : self.rows + len(block)] = block
        self.rows += len(block)

    def matrix(self) -> np.ndarray:
        return self.out[: self.rows] if self.out is not None else _stacked(self.blocks)


def _stacked(blocks: list[np.ndarray]) -> np.ndarray:
    """The blocks one under the other, each freed once copied (the peak is the result and
    one block, not twice the data)."""
    out = np.empty((sum(len(b) for b in blocks), blocks[0].shape[1]), dtype=np.float64)
    start = 0
    while blocks:
        block = blocks.pop(0)
        out[start : start + len(block)] = block
        start += len(block)
    return out
