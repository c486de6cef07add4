"""What a reader is asked for (:class:`Columns`) and what it gives back (:class:`Chunk`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from .missing import MissingValues


@dataclass(frozen=True)
class Columns:
    """The columns to read from a file whose header is ``header``: features (by index, in
    the order wanted), the target (or none) and the columns copied as they are (kept)."""

    path: Path
    header: list[str]
    features: list[int]
    target: int | None = None
    keep: list[int] = field(default_factory=list)
    missing: MissingValues = field(default_factory=MissingValues)
    allow_missing: bool = False

    @property
    def feature_names(self) -> list[str]:
        return [self.header[i] for i in self.features]

    def needed(self) -> list[int]:
        """The indices read, each once, in the file's order."""
        target = [] if self.target is None else [self.target]
        return sorted({*self.features, *target, *self.keep})


@dataclass
class Chunk:
    """Rows of a data file: features (float64, NaN where missing), the raw target values
    as read (text for CSV: object array of str; Parquet: the column's type), where each row
    is (``lines``: CSV line numbers, the header being line 1; Parquet: row numbers in the
    file, from 1 — ``unit`` says which), which rows hold a missing value (only when missing
    values are allowed), the kept columns (an Arrow table, cells as in the file), each
    row's 0-based index among the data rows of the source, and the file they come from."""

    features: np.ndarray
    target: np.ndarray | None
    lines: np.ndarray
    missing: np.ndarray
    kept: pa.Table | None = None
    rows: np.ndarray | None = None
    source: str = ""
    unit: str = "line"

    def __len__(self) -> int:
        return len(self.features)

    def part(self, start: int, stop: int) -> Chunk:
        """Rows ``start:stop`` of this chunk."""
        return Chunk(
            self.features[start:stop],
            None if self.target is None else self.target[start:stop],
            self.lines[start:stop],
            self.missing[start:stop],
            None if self.kept is None else self.kept.slice(start, stop - start),
            None if self.rows is None else self.rows[start:stop],
            self.source,
            self.unit,
        )


def text_objects(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A text column (without nulls) as an object array of str, one str object for each
    distinct value: a str per row costs ~55 bytes, a reference to a shared one 8, and a
    target column holds few distinct labels."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column.dictionary_encode()
    texts = encoded.dictionary.to_numpy(zero_copy_only=False)
    return texts[encoded.indices.to_numpy(zero_copy_only=False)]
