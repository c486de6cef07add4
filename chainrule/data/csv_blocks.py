"""CSV files read by Apache Arrow, block by block, with errors that name the line.

A file is cut into blocks of about :data:`BLOCK_BYTES` at line ends that lie outside quoted
cells (a quote character flips "inside"; ``""`` flips twice), found by counting quotes
in one pass.  Each block is parsed by ``pyarrow.csv`` with the header's column names, the
features as float64 and the target and kept columns as text (never stripped).

Arrow gives no line for most of what it refuses, and counts rows, not lines.  So a block
Arrow refuses or finds anything odd in (a value that is not a number, a missing value, a
row of the wrong length, an odd number of quotes, bytes that are not UTF-8, blank lines)
is read again by the reference reader, Python's ``csv`` module, which knows every line:
that gives the error naming the file, the column and the line, or (for blank lines,
spaces, numbers only Python reads) the block's rows.  Lines are numbered as in the file:
the header is line 1, the first data row line 2.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .chunk import Chunk, Columns, text_objects
from .errors import DataFileError, shown
from .signals import arrow_call

BLOCK_BYTES = 8 << 20
HEADER_LIMIT = 64 << 20  # a header line longer than this is not a header
BOM = b"\xef\xbb\xbf"
WIDE = 1000  # columns from which a block is parsed in one piece
# Arrow's buffers for a parsed block come from the C library's allocator, which gives
# freed memory back: Arrow's default (mimalloc) keeps it for the thread that used it,
# 20-30 MB more peak memory for a read, at the same speed (measured in issue 19)
ARROW_POOL = pa.system_memory_pool()


@dataclass(frozen=True)
class CsvLayout:
    """Where a CSV file's data starts: byte ``data_start`` of the (decompressed) bytes, on
    line ``first_line``, after the header ``header``."""

    path: Path
    header: list[str]
    data_start: int
    first_line: int
    compressed: bool


@dataclass(frozen=True)
class RawBlock:
    """Bytes of whole records: ``data`` starts at byte ``offset``, on line ``first_line``."""

    data: bytes
    first_line: int
    offset: int
    quote_count: int | None = field(default=None, compare=False, repr=False)  # if known

    @property
    def quotes(self) -> int:
        """The number of quote characters in ``data``."""
        return count_byte(self.data, b'"') if self.quote_count is None else self.quote_count

    @cached_property
    def line_ends(self) -> int:
        """The number of line ends in ``data`` (counted once: a pass over the bytes)."""
        return count_byte(self.data, b"\n")


def skip_to(stream: BinaryIO, offset: int, compressed: bool) -> None:
    """Move ``stream`` to byte ``offset`` of the data (a gzip stream, which cannot seek
    back, moves forward by decompressing)."""
    if compressed:
        while offset > 0:
            offset -= len(stream.read(min(offset, BLOCK_BYTES)))
    else:
        stream.seek(offset)


def open_bytes(path: Path) -> BinaryIO:
    """The file's bytes, decompressed for ``.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_layout(path: Path) -> CsvLayout:
    """The header of a CSV file (checked: names, none empty, none twice) and where its
    data starts."""
    with open_bytes(path) as stream:
        try:
            start = stream.read(len(BOM))
            skipped = len(BOM) if start == BOM else 0
            buffer = start[skipped:]
            end = _first_record_end(buffer)
            while end == 0 and len(buffer) < HEADER_LIMIT:
                piece = stream.read(1 << 16)
                if not piece:
                    break
                buffer += piece
                end = _first_record_end(buffer)
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            raise DataFileError(f"{path}: cannot read the file ({error})") from None
    record = buffer[:end] if end else buffer
    if not record.strip() and not buffer:
        raise DataFileError(f"{path}: the file is empty")
    if end == 0 and record.count(b'"') % 2:
        raise DataFileError(f"{path}: line 1 opens a quoted cell that is never closed")
    text = _decode(record, path, 1)
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True)) if text else []
    names = [name.strip() for name in rows[0]] if rows else []
    check_header(names, path)
    length = len(record)
    return CsvLayout(path, names, skipped + length, 1 + record.count(b"\n"), path.suffix == ".gz")


def check_header(names: list[str], path: Path) -> None:
    if not any(names):
        raise DataFileError(f"{path}: line 1 is empty; it should name the columns")
    if all(_is_number(name) for name in names if name):
        raise DataFileError(
            f"{path}: line 1 holds numbers, not column names; add a header row naming the columns"
        )
    if "" in names:
        raise DataFileError(f"{path}: column {names.index('') + 1} of the header has no name")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataFileError(f"{path}: the header names a column twice: {', '.join(duplicates)}")


def _first_record_end(buffer: bytes) -> int:
    """The index just after the first line end outside quotes, or 0 if there is none."""
    position, quotes = 0, 0
    while True:
        newline = buffer.find(b"\n", position)
        if newline < 0:
            return 0
        quotes += buffer.count(b'"', position, newline)
        if quotes % 2 == 0:
            return newline + 1
        position = newline + 1


def count_byte(data: bytes, byte: bytes) -> int:
    """How many times the one-byte ``byte`` occurs in ``data``: ``data.count(byte)``,
    which looks at a byte at a time, or for a large buffer NumPy's vectorised compare
    (five times faster on a block of 8 MB: a tenth of a predict's time)."""
    if len(data) < 1 << 16:
        return data.count(byte)
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == byte[0]))


def _last_record_end(buffer: bytes) -> tuple[int, int]:
    """The index just after the last line end outside quotes (``buffer`` starts outside
    quotes), or 0 if there is none, and the number of quote characters before it."""
    if b'"' not in buffer:  # a search stops at the first quote; a count reads it all
        return buffer.rfind(b"\n") + 1, 0
    total = count_byte(buffer, b'"')
    end, after = len(buffer), 0
    while True:
        newline = buffer.rfind(b"\n", 0, end)
        if newline < 0:
            return 0, 0
        after += buffer.count(b'"', newline, end)
        if (total - after) % 2 == 0:
            return newline + 1, total - after
        end = newline


def iter_raw_blocks(
    stream: BinaryIO, offset: int, first_line: int, block_bytes: int = BLOCK_BYTES
) -> Iterator[RawBlock]:
    """Blocks of whole records read from ``stream`` (positioned at byte ``offset``, line
    ``first_line``); a record longer than a block makes its block longer."""
    pending = b""
    while True:
        piece = stream.read(block_bytes)
        if not piece:
            break
        buffer = pending + piece if pending else piece
        cut, quotes = _last_record_end(buffer)
        if cut == 0:
            pending = buffer
            continue
        raw = RawBlock(buffer[:cut], first_line, offset, quotes)
        pending = buffer[cut:]
        yield raw
        first_line += raw.line_ends
        offset += cut
    if pending.strip():
        yield RawBlock(pending, first_line, offset)


def _decode(data: bytes, path: Path, first_line: int) -> str:
    """``data`` as text, or an error naming the first line that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + data.count(b"\n", 0, error.start)
        position = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        byte = data[error.start : error.start + 1].hex()
        raise DataFileError(
            f"{path}: line {line} is not UTF-8 text (byte 0x{byte} at position "
            f"{position}); save the file as UTF-8"
        ) from None


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _consecutive_lines(raw: RawBlock, rows: int) -> np.ndarray | None:
    """Each row's line if every line end of the block ends one row (no blank line, no line
    end inside a quoted cell), else None."""
    records = raw.line_ends + (0 if raw.data.endswith(b"\n") else 1)
    if records != rows:
        return None
    return np.arange(raw.first_line, raw.first_line + rows, dtype=np.int64)


def parse_block(raw: RawBlock, columns: Columns, first_row: int) -> Chunk:
    """The rows of one block (see the module's docstring); ``first_row`` is the 0-based
    index of its first data row in the file."""
    data = raw.data
    quoted = b'"' in data
    overlap = set(columns.keep) & set(columns.features)
    if (quoted and raw.quotes % 2) or overlap or not _is_utf8(data):
        return python_block(raw, columns, first_row)
    try:
        table = arrow_call(lambda: _arrow_table(data, columns))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return python_block(raw, columns, first_row)
    lines = _consecutive_lines(raw, table.num_rows)
    if lines is None:
        return python_block(raw, columns, first_row)
    header = columns.header
    features = np.empty((table.num_rows, len(columns.features)), dtype=np.float64)
    for j, index in enumerate(columns.features):
        features[:, j] = table.column(header[index]).to_numpy()
    missing = ~np.isfinite(features).all(axis=1)
    target = None
    if columns.target is not None:
        column = table.column(header[columns.target])
        missing |= pc.is_in(column, value_set=pa.array(columns.missing.target_texts())).to_numpy(
            zero_copy_only=False
        )
        target = text_objects(column)
    if missing.any() and not columns.allow_missing:
        return python_block(raw, columns, first_row)  # it names the cell and its line
    kept = table.select([header[i] for i in columns.keep]) if columns.keep else None
    rows = np.arange(first_row, first_row + table.num_rows, dtype=np.int64)
    return Chunk(features, target, lines, missing, kept, rows, str(columns.path))


def _parallel(size: int, width: int) -> dict:
    """Arrow's options for a block of ``size`` bytes and ``width`` columns: two threads on
    halves of it; a wide table in one piece and one thread, since Arrow's memory per
    column and piece (tens of kB) outweighs the data when there are thousands of columns."""
    if width > WIDE:
        return {"use_threads": False, "block_size": size + 1}
    return {"use_threads": True, "block_size": max(1 << 20, size // 2 + 1)}


def _arrow_table(data: bytes, columns: Columns) -> pa.Table:
    header = columns.header
    types = {header[i]: pa.float64() for i in columns.features}
    for i in [*columns.keep, *([] if columns.target is None else [columns.target])]:
        types[header[i]] = pa.string()
    return pacsv.read_csv(
        pa.py_buffer(data),
        memory_pool=ARROW_POOL,
        read_options=pacsv.ReadOptions(column_names=header, **_parallel(len(data), len(header))),
        # A line end inside a quoted cell is never parsed here: it makes the block's rows
        # fewer than its lines, which sends the block to the reference reader (see
        # _consecutive_lines), and if Arrow cut the record there instead, the pieces of
        # a record of N >= 2 cells cannot all have N cells (m cuts make m + 1 lines of
        # N + m cells), so Arrow refuses it.  Arrow's faster parse (no newlines in
        # values: a quarter less time on a quoted file) is then safe.
        parse_options=pacsv.ParseOptions(newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            include_columns=[header[i] for i in columns.needed()],
            null_values=columns.missing.feature_texts(),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


# The reference reader -----------------------------------------------------------------------


def python_block(raw: RawBlock, columns: Columns, first_row: int) -> Chunk:
    """The rows of one block read by Python's ``csv`` module, cell by cell; every problem
    is an error naming the file, the column and the line."""
    path, header = columns.path, columns.header
    text = _decode(raw.data, path, raw.first_line)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    before = raw.first_line - 1  # reader.line_num counts from the block's first line
    read_up_to = 0  # the last line of the last complete record, in the block
    try:
        for row in reader:
            read_up_to = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            if len(row) != len(header):
                raise DataFileError(
                    f"{path}: line {before + reader.line_num} has {len(row)} cells, "
                    f"the header has {len(header)}"
                )
            rows.append(row)
            lines.append(before + reader.line_num)
    except csv.Error as error:
        line = before + read_up_to + 1  # the record that failed starts after the last one
        if "unexpected end of data" in str(error):
            raise DataFileError(
                f"{path}: line {line} opens a quoted cell that is never closed"
            ) from None
        raise DataFileError(f"{path}: cannot read line {line} ({error})") from None
    return _convert(rows, np.asarray(lines, dtype=np.int64), columns, first_row)


def _convert(rows: list[list[str]], lines: np.ndarray, columns: Columns, first_row: int) -> Chunk:
    path, header, missing_values = columns.path, columns.header, columns.missing
    features = np.empty((len(rows), len(columns.features)), dtype=np.float64)
    missing = np.zeros(len(rows), dtype=bool)
    first_missing: tuple[str, str, int] | None = None
    for r, row in enumerate(rows):
        for j, index in enumerate(columns.features):
            cell = row[index]
            value = np.nan
            if not missing_values.feature_cell(cell):
                try:
                    value = float(cell)
                except ValueError:
                    raise DataFileError(
                        f"{path}: column '{header[index]}' holds '{shown(cell.strip())}' at line "
                        f"{lines[r]}, which is not a number; features must be numeric"
                    ) from None
            features[r, j] = value
            if not np.isfinite(value):
                missing[r] = True
                if first_missing is None:
                    first_missing = (header[index], cell, int(lines[r]))
        if columns.target is not None and missing_values.target_cell(row[columns.target]):
            missing[r] = True
            if first_missing is None:
                first_missing = (header[columns.target], row[columns.target], int(lines[r]))
    if first_missing is not None and not columns.allow_missing:
        column, value, line = first_missing
        named = f"'{shown(value)}'" if value.strip() else "an empty cell"
        raise DataFileError(
            f"{path}: column '{column}' has a missing value ({named}) at line {line}; "
            "pass --drop-missing to skip rows with missing values"
        )
    target = None
    if columns.target is not None:
        target = np.empty(len(rows), dtype=object)
        target[:] = [row[columns.target] for row in rows]
    kept = None
    if columns.keep:
        kept = pa.table(
            {header[k]: pa.array([row[k] for row in rows], pa.string()) for k in columns.keep}
        )
    indices = np.arange(first_row, first_row + len(rows), dtype=np.int64)
    return Chunk(features, target, lines, missing, kept, indices, str(path))


def count_records(raw: RawBlock, columns: Columns) -> int:
    """The number of data rows in a block, without converting its values: its line ends,
    when no quote and no blank line makes a line end other than a row's end."""
    data = raw.data
    body = data[:-1] if data.endswith(b"\n") else data
    if b'"' not in data and not _has_blank_line(body):
        return body.count(b"\n") + 1
    return len(python_block(raw, _nothing_converted(columns), 0))


# a line of nothing but spaces: after a line end (a pattern that starts with a literal is
# searched for that literal first, ~50x faster than trying each position) or at the start
_BLANK_LINE = re.compile(rb"\n[ \t\r]*(?:\n|\Z)")
_BLANK_FIRST_LINE = re.compile(rb"[ \t\r]*(?:\n|\Z)")


def _has_blank_line(body: bytes) -> bool:
    return bool(_BLANK_FIRST_LINE.match(body) or _BLANK_LINE.search(body))


def _nothing_converted(columns: Columns) -> Columns:
    return Columns(columns.path, columns.header, [], None, [], columns.missing, True)
