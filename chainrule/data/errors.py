"""The error of a data file that cannot be used as it is."""

from __future__ import annotations


class DataFileError(ValueError):
    """A CSV or Parquet file that cannot be used as it is; the message names the file and
    the problem (the column, the line or row, what was expected)."""


CsvError = DataFileError  # the name it had when only CSV was read


def shown(value: object, limit: int = 60) -> str:
    """``value`` as text for a message, cut to ``limit`` characters if longer (a cell of
    200,000 characters would bury the message)."""
    text = str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"
