"""Reading CSV files of numeric features (and a target that may be text), in chunks, with
errors that name the file, the column and the line.

One code path serves training (read everything), evaluation and streaming prediction
(chunk by chunk, so memory stays bounded on large files).  Lines are numbered as in the
file: the header is line 1, the first data row line 2.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .interrupts import deferred_interrupts

MISSING = {"", "nan", "na", "n/a", "null", "none", "?"}
CHUNK_ROWS = 8192


class CsvError(ValueError):
    """A CSV file that cannot be used as it is; the message names the problem."""


@dataclass
class Chunk:
    """Rows of a CSV file: features (float64), raw target strings, their line numbers,
    which rows hold a missing feature (only when missing values are allowed) and the
    cells of the columns asked to be kept, as they are in the file."""

    features: np.ndarray
    target: np.ndarray | None
    lines: np.ndarray
    missing: np.ndarray
    kept: np.ndarray | None = None


@dataclass
class Table:
    feature_names: list[str]
    target_name: str | None
    features: np.ndarray
    target: np.ndarray | None
    dropped_lines: list[int]
    lines: np.ndarray | None = None  # each kept row's line in the file

    def numeric_target(self, path: str | os.PathLike, why: str) -> np.ndarray:
        """The target column as numbers, or a CsvError naming the file, the column, the
        first value that is not a number and its line, and ``why`` a number is needed."""
        assert self.target is not None
        try:
            return self.target.astype(np.float64)
        except ValueError:
            pass
        for value, line in zip(self.target, self.lines, strict=True):
            if not _is_number(value):
                raise CsvError(
                    f"{path}: column '{self.target_name}' holds '{value}' at line {line}, "
                    f"which is not a number; {why}"
                )
        raise CsvError(f"{path}: cannot read column '{self.target_name}' as numbers")


def _open(path: Path):
    if not path.exists():
        raise CsvError(f"{path}: no such file")
    if path.is_dir():
        raise CsvError(f"{path}: is a folder, not a CSV file")
    return path.open(newline="", encoding="utf-8-sig")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_header(path: str | os.PathLike) -> list[str]:
    path = Path(path)
    with _open(path) as handle:
        return _header(_reader(handle), path)


def _reader(handle):
    """A CSV reader that refuses malformed quoting (an unterminated quote would otherwise
    swallow the rest of the file into one cell)."""
    return csv.reader(handle, strict=True)


def _unreadable(path: Path, line: int, error: Exception) -> CsvError:
    """The error for a line the csv module or the UTF-8 decoder refused.  The decoder reads
    ahead in blocks, so its line is found again by decoding the file line by line."""
    if isinstance(error, UnicodeDecodeError):
        line, error = _first_line_not_utf8(path) or (line, error)
        if isinstance(error, UnicodeDecodeError):
            byte = error.object[error.start : error.start + 1].hex()
            return CsvError(
                f"{path}: line {line} is not UTF-8 text (byte 0x{byte} at position "
                f"{error.start + 1}); save the file as UTF-8"
            )
    if "unexpected end of data" in str(error):
        return CsvError(f"{path}: line {line} opens a quoted cell that is never closed")
    return CsvError(f"{path}: cannot read line {line} ({error})")


def _first_line_not_utf8(path: Path) -> tuple[int, UnicodeDecodeError] | None:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                return number, error
    return None


def _header(reader, path: Path) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise CsvError(f"{path}: the file is empty") from None
    except (csv.Error, UnicodeDecodeError) as error:
        raise _unreadable(path, 1, error) from None
    names = [name.strip() for name in header]
    if not any(names):
        raise CsvError(f"{path}: line 1 is empty; it should name the columns")
    if all(_is_number(name) for name in names if name):
        raise CsvError(
            f"{path}: line 1 holds numbers, not column names; add a header row naming the columns"
        )
    if "" in names:
        raise CsvError(f"{path}: column {names.index('') + 1} of the header has no name")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CsvError(f"{path}: the header names a column twice: {', '.join(duplicates)}")
    return names


def check_columns_exist(path: Path, header: list[str], names: Sequence[str], role: str) -> None:
    """A CsvError naming every column of ``names`` the file lacks, and the columns it has;
    ``role`` says what they were named for (e.g. "to keep")."""
    unknown = [name for name in names if name not in header]
    if unknown:
        raise CsvError(
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
        raise CsvError(f"{path}: no column '{target}'; the columns are: {', '.join(header)}")
    target_index = header.index(target) if target is not None else None
    if feature_names is None:
        features = [i for i, name in enumerate(header) if i != target_index]
        if not features:
            raise CsvError(f"{path}: no feature columns besides the target '{target}'")
        return features, target_index
    missing = [name for name in feature_names if name not in header]
    if missing:
        raise CsvError(f"{path}: missing the model's feature columns: {', '.join(missing)}")
    allowed = set(feature_names) | ({target} if target else set()) | set(ignore)
    extra = [name for name in header if name not in allowed]
    if extra:
        raise CsvError(
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
) -> Iterator[tuple[list[str], Chunk]]:
    """Yield (feature names, Chunk) for successive blocks of rows.

    Non-numeric feature values are an error naming the column and line; missing values
    (empty, NaN, NA, ...) are an error too, unless ``allow_missing``, when such rows are
    flagged in ``Chunk.missing`` (features NaN) for the caller to drop or skip.  Columns
    named in ``ignore`` may be present and are not read; the cells of the columns named
    in ``keep`` (which must be present) are passed through as text in ``Chunk.kept``.
    """
    path = Path(path)
    with _open(path) as handle:
        reader = _reader(handle)
        header = _header(reader, path)
        check_columns_exist(path, header, keep, "to keep")
        feature_index, target_index = resolve_columns(
            path, header, target, feature_names, [*ignore, *keep]
        )
        keep_index = [header.index(name) for name in keep]
        names = [header[i] for i in feature_index]
        rows: list[list[str]] = []
        lines: list[int] = []
        read_up_to = reader.line_num  # the last line of the last complete record
        try:
            for row in reader:
                read_up_to = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) != len(header):
                    raise CsvError(
                        f"{path}: line {reader.line_num} has {len(row)} cells, "
                        f"the header has {len(header)}"
                    )
                rows.append(row)
                lines.append(reader.line_num)
                if len(rows) == chunk_rows:
                    yield names, _convert(path, header, rows, lines, feature_index, target_index,
                                          allow_missing, keep_index)  # fmt: skip
                    rows, lines = [], []
        except (csv.Error, UnicodeDecodeError) as error:
            # the record that failed starts on the line after the last one read whole
            raise _unreadable(path, read_up_to + 1, error) from None
        if rows:
            yield names, _convert(path, header, rows, lines, feature_index, target_index,
                                  allow_missing, keep_index)  # fmt: skip


def _convert(
    path, header, rows, lines, feature_index, target_index, allow_missing, keep_index=()
) -> Chunk:
    cells = np.array(rows, dtype=str)
    text = np.char.strip(cells[:, feature_index])
    missing_cells = np.isin(np.char.lower(text), list(MISSING))
    try:
        features = np.where(missing_cells, "nan", text).astype(np.float64)
    except ValueError:
        _raise_first_non_number(path, header, text, missing_cells, lines, feature_index)
    missing_cells |= ~np.isfinite(features)
    target = None
    if target_index is not None:
        target = np.char.strip(cells[:, target_index])
        target_missing = np.isin(np.char.lower(target), list(MISSING))
    else:
        target_missing = np.zeros(len(rows), dtype=bool)
    missing_rows = missing_cells.any(axis=1) | target_missing
    if missing_rows.any() and not allow_missing:
        row = int(np.flatnonzero(missing_rows)[0])
        if missing_cells[row].any():
            column = header[feature_index[int(np.flatnonzero(missing_cells[row])[0])]]
            value = rows[row][feature_index[int(np.flatnonzero(missing_cells[row])[0])]]
        else:
            column, value = header[target_index], rows[row][target_index]
        shown = f"'{value}'" if value.strip() else "an empty cell"
        raise CsvError(
            f"{path}: column '{column}' has a missing value ({shown}) at line {lines[row]}; "
            "pass --drop-missing to skip rows with missing values"
        )
    kept = cells[:, list(keep_index)] if keep_index else None
    return Chunk(features, target, np.asarray(lines), missing_rows, kept)


def _raise_first_non_number(path, header, text, missing_cells, lines, feature_index):
    for r in range(text.shape[0]):
        for c in range(text.shape[1]):
            if not missing_cells[r, c] and not _is_number(text[r, c]):
                raise CsvError(
                    f"{path}: column '{header[feature_index[c]]}' holds '{text[r, c]}' at line "
                    f"{lines[r]}, which is not a number; features must be numeric"
                )
    raise CsvError(f"{path}: cannot read the feature values as numbers")  # pragma: no cover


def read_table(
    path: str | os.PathLike,
    target: str | None,
    feature_names: Sequence[str] | None = None,
    drop_missing: bool = False,
) -> Table:
    """The whole file as arrays; rows with missing values are dropped if ``drop_missing``."""
    features, targets, dropped, lines = [], [], [], []
    names: list[str] = []
    chunks = iter_chunks(path, target, feature_names, allow_missing=drop_missing)
    with deferred_interrupts() as check_interrupts:
        for chunk_names, chunk in chunks:
            check_interrupts()
            names = chunk_names
            keep = ~chunk.missing
            dropped.extend(int(line) for line in chunk.lines[chunk.missing])
            features.append(chunk.features[keep])
            lines.append(chunk.lines[keep])
            if chunk.target is not None:
                targets.append(chunk.target[keep])
    if not features or sum(len(f) for f in features) == 0:
        what = (
            "no rows left after dropping those with missing values" if dropped else "no data rows"
        )
        raise CsvError(f"{path}: {what}")
    return Table(
        feature_names=names,
        target_name=target,
        features=np.concatenate(features),
        target=np.concatenate(targets) if targets else None,
        dropped_lines=dropped,
        lines=np.concatenate(lines),
    )
