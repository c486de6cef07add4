"""Writing tables chunk by chunk, as CSV or Parquet, by the output's name.

CSV is written by ``pyarrow.csv`` (quotes only where needed, numbers in their shortest
exact form, an empty cell for a null); Parquet by ``pyarrow.parquet.ParquetWriter``, one
row group per chunk written.  Either goes to a stream the caller opened (a binary file, or
a text stream such as standard output for CSV), so the caller decides about atomicity.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .parquet_blocks import SUFFIXES

_EMPTY_LINE = re.compile(rb"(?m)^(?=\n)")


def output_format(path: str | os.PathLike | None) -> str:
    """ "parquet" for a name ending in .parquet (.parq, .pq), else "csv"."""
    return "parquet" if path is not None and Path(path).suffix in SUFFIXES else "csv"


def _csv_header(names: list[str]) -> bytes:
    """The header as Python's csv module writes it: quotes only where needed."""
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(names)
    return line.getvalue().encode("utf-8")


def _csv_rows(table: pa.Table) -> bytes:
    """The rows, text unquoted unless a cell needs quotes (Arrow quotes every text cell
    when any may need it)."""
    sink = pa.BufferOutputStream()
    try:
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    except pa.ArrowInvalid:  # a cell holds a comma, a quote or a line end
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    data = sink.getvalue().to_pybytes()
    if table.num_columns == 1 and table.column(0).null_count:
        data = _EMPTY_LINE.sub(b'""', data)  # an empty line would read as no row
    return data


class TableWriter:
    """Write pa.Tables of one schema one after the other into ``stream``; :meth:`close`
    ends the file (Parquet's footer)."""

    def __init__(self, stream: IO[Any], file_format: str = "csv") -> None:
        self.stream, self.format = stream, file_format
        self.text = isinstance(stream, io.TextIOBase)
        self.parquet: pq.ParquetWriter | None = None
        self.started = False

    def write(self, table: pa.Table) -> None:
        if self.format == "parquet":
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.stream, table.schema)
            self.parquet.write_table(table)
            return
        data = b"" if self.started else _csv_header(table.column_names)
        self.started = True
        if table.num_rows:
            data += _csv_rows(table)
        self.stream.write(data.decode("utf-8") if self.text else data)

    def close(self, schema: pa.Schema) -> None:
        """End the file; a file with no rows still gets its header (CSV) or schema."""
        if self.format == "parquet":
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.stream, schema)
            self.parquet.close()
        elif not self.started:
            self.write(schema.empty_table())
