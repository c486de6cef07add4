"""Parquet files (or a folder of them) read by ``pyarrow.parquet`` one row group at a time.

``ParquetFile`` is opened with ``pre_buffer=False``: pre-buffering (its default) makes the
memory of a pass grow with the file.  Features must be numeric columns (integers, floats,
decimals, booleans); a missing feature is a null or a value that is not finite.  The target
keeps its type (text, integers, floats); it is missing where it is null, or for text,
where it is one of the texts the user names as missing.  Rows are numbered in their file
from 1 (the messages say "row").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .chunk import Chunk, Columns, text_objects
from .errors import DataFileError, shown
from .signals import arrow_call

SUFFIXES = (".parquet", ".parq", ".pq")
MAGIC = b"PAR1"


@dataclass(frozen=True)
class RowGroup:
    """Row group ``group`` of ``path``: ``rows`` rows, the first being data row ``first_row``
    (0-based) of the source and row ``first_in_file`` (0-based) of its file."""

    path: Path
    group: int
    rows: int
    first_row: int
    first_in_file: int


def parquet_files(path: Path) -> list[Path]:
    """The file, or a folder's Parquet files in name order."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
    if not files:
        raise DataFileError(f"{path}: is a folder without Parquet files (.parquet)")
    return files


def open_file(path: Path) -> pq.ParquetFile:
    if path.stat().st_size == 0:
        raise DataFileError(f"{path}: the file is empty")
    try:
        return pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowException, OSError) as error:
        raise DataFileError(
            f"{path}: not a readable Parquet file ({str(error).splitlines()[0]})"
        ) from None


class ParquetSource:
    """The row groups of a Parquet file or folder, and its column names."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files = parquet_files(path)
        self.schema = open_file(self.files[0]).schema_arrow
        self.header = list(self.schema.names)
        self.row_groups: list[RowGroup] = []
        total = 0
        for file in self.files:
            metadata = open_file(file).metadata
            names = list(metadata.schema.to_arrow_schema().names)
            if names != self.header:
                raise DataFileError(
                    f"{file}: its columns ({', '.join(names)}) are not those of "
                    f"{self.files[0].name} ({', '.join(self.header)})"
                )
            in_file = 0
            for group in range(metadata.num_row_groups):
                rows = metadata.row_group(group).num_rows
                self.row_groups.append(RowGroup(file, group, rows, total, in_file))
                total, in_file = total + rows, in_file + rows
        self.num_rows = total

    def check_types(self, columns: Columns) -> None:
        """A feature column that is not numeric is an error naming it and its type."""
        for index in columns.features:
            kind = self.schema.field(index).type
            if not (
                pa.types.is_integer(kind)
                or pa.types.is_floating(kind)
                or pa.types.is_decimal(kind)
                or pa.types.is_boolean(kind)
            ):
                raise DataFileError(
                    f"{self.path}: column '{self.header[index]}' holds {kind} values, not "
                    "numbers; features must be numeric"
                )
        if columns.target is not None:
            kind = self.schema.field(columns.target).type
            if pa.types.is_dictionary(kind):
                kind = kind.value_type
            if not any(
                check(kind)
                for check in (
                    pa.types.is_string, pa.types.is_large_string, pa.types.is_integer,
                    pa.types.is_floating, pa.types.is_boolean,
                )
            ):  # fmt: skip
                raise DataFileError(
                    f"{self.path}: the target column '{self.header[columns.target]}' holds "
                    f"{kind} values; a target is text, integers or numbers"
                )

    def iter_group(
        self, group: RowGroup, columns: Columns, batch_rows: int | None = None
    ) -> Iterator[Chunk]:
        """The rows of a row group, in batches of ``batch_rows`` (all at once if None)."""
        parquet = open_file(group.path)
        names = [self.header[i] for i in columns.needed()]
        try:
            if batch_rows is None:
                table = arrow_call(lambda: parquet.read_row_group(group.group, columns=names))
                batches = table.combine_chunks().to_batches() or [
                    pa.RecordBatch.from_pylist([], schema=table.schema)
                ]
                yield _chunk(batches[0], columns, group, 0)
                return
            batches = parquet.iter_batches(
                batch_size=batch_rows, row_groups=[group.group], columns=names
            )
            done = 0
            while True:
                batch = arrow_call(lambda: next(batches, None))
                if batch is None:
                    break
                yield _chunk(batch, columns, group, done)
                done += batch.num_rows
        except (pa.ArrowException, OSError) as error:
            raise DataFileError(
                f"{group.path}: cannot read row group {group.group} ({str(error).splitlines()[0]})"
            ) from None


def _chunk(batch: pa.RecordBatch, columns: Columns, group: RowGroup, done: int) -> Chunk:
    header, n = columns.header, batch.num_rows
    start = group.first_in_file + done
    lines = np.arange(start + 1, start + 1 + n, dtype=np.int64)
    features = np.empty((n, len(columns.features)), dtype=np.float64)
    for j, index in enumerate(columns.features):
        column = pc.cast(batch.column(header[index]), pa.float64())
        features[:, j] = column.to_numpy(zero_copy_only=False)
    missing_cells = ~np.isfinite(features)
    missing = missing_cells.any(axis=1)
    target, target_missing = None, np.zeros(n, dtype=bool)
    if columns.target is not None:
        target, target_missing = _target(batch.column(header[columns.target]), columns)
        missing |= target_missing
    if missing.any() and not columns.allow_missing:
        row = int(np.flatnonzero(missing)[0])
        if missing_cells[row].any():
            index = columns.features[int(np.flatnonzero(missing_cells[row])[0])]
        else:
            index = columns.target
        value = batch.column(header[index])[row].as_py()
        named = "null" if value is None else f"'{shown(value)}'"
        raise DataFileError(
            f"{group.path}: column '{header[index]}' has a missing value ({named}) at row "
            f"{lines[row]}; pass --drop-missing to skip rows with missing values"
        )
    kept = pa.Table.from_batches([batch]).select([header[i] for i in columns.keep])
    rows = np.arange(group.first_row + done, group.first_row + done + n, dtype=np.int64)
    return Chunk(
        features,
        target,
        lines,
        missing,
        kept if columns.keep else None,
        rows,
        str(group.path),
        "row",
    )


def _target(column: pa.Array, columns: Columns) -> tuple[np.ndarray, np.ndarray]:
    """The target's values in their type (text as str objects) and where they are missing."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    missing = column.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        named = pc.is_in(column, value_set=pa.array(list(columns.missing.extra), pa.string()))
        missing |= pc.fill_null(named, False).to_numpy(zero_copy_only=False)
        return text_objects(column.fill_null("")), missing
    if pa.types.is_integer(column.type):
        return column.fill_null(0).to_numpy(zero_copy_only=False), missing
    if pa.types.is_floating(column.type):
        values = column.to_numpy(zero_copy_only=False)
        return values, missing | ~np.isfinite(values)
    if pa.types.is_boolean(column.type):
        return column.fill_null(False).to_numpy(zero_copy_only=False), missing
    raise DataFileError(f"a target column of type {column.type}")  # check_types refuses it
