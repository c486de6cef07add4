"""An uploaded CSV as the playground's data: read by chainrule's CSV reader (the same errors
naming column and line as ``chainrule train``), the two columns chosen to draw standardised
(zero mean, unit variance), the target encoded as ``chainrule train`` does (text or a few
whole numbers: classes; otherwise numbers to regress, standardised)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..data.tables import CsvError, iter_chunks, read_header
from ..tabular import encode_labels, guess_task
from .data import Points
from .protocol import LIMITS, ProtocolError


@contextmanager
def _as_file(text: str, name: str) -> Iterator[Path]:
    """The uploaded text in a private temporary file (the reader reads files), named as
    the upload was so that errors name it; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="chainrule-upload-") as folder:
        path = Path(folder) / (os.path.basename(name or "upload.csv") or "upload.csv")
        path.write_text(text, encoding="utf-8")
        yield path


def _check_size(text: str) -> None:
    size = len(text.encode("utf-8"))
    if size > LIMITS.upload_bytes:
        raise ProtocolError(f"the CSV has {size} bytes; the limit is {LIMITS.upload_bytes}")
    rows = text.count("\n")
    if rows > LIMITS.upload_rows + 1:
        raise ProtocolError(f"the CSV has about {rows} rows; the limit is {LIMITS.upload_rows}")


def header(text: str, name: str = "upload.csv") -> list[str]:
    """The column names of an uploaded CSV (at least three: two to draw, a target)."""
    _check_size(text)
    with _as_file(text, name) as path:
        columns = read_header(path)
    if len(columns) < 3:
        raise CsvError(
            f"{name}: {len(columns)} column(s); the playground needs two numeric columns to "
            "draw and a target"
        )
    return columns


def points(text: str, name: str, x: str, y: str, target: str) -> Points:
    """The rows of columns ``x`` and ``y`` (standardised) with their ``target``."""
    _check_size(text)
    if len({x, y, target}) < 3:
        raise ProtocolError("choose three different columns: x, y and the target")
    with _as_file(text, name) as path:
        columns = read_header(path)
        others = [c for c in columns if c not in (x, y, target)]
        features, targets = [], []
        try:
            for _, chunk in iter_chunks(path, target, [x, y], allow_missing=True, ignore=others):
                features.append(chunk.features[~chunk.missing])
                targets.append(chunk.target[~chunk.missing])
        except CsvError as error:  # name the upload, not the temporary file
            raise CsvError(str(error).replace(str(path), name)) from None
    X = np.concatenate(features) if features else np.zeros((0, 2))
    raw = np.concatenate(targets) if targets else np.zeros(0, dtype=str)
    if len(X) < 4:
        raise CsvError(f"{name}: {len(X)} complete rows; at least 4 are needed")
    spread = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    if guess_task(raw) == "classify":
        classes, index = encode_labels(raw)
        if len(classes) < 2:
            raise CsvError(f"{name}: the target column '{target}' holds one class only")
        return Points(X, index.astype(np.int64), "classify", [str(c) for c in classes], (x, y))
    values = raw.astype(np.float64)
    values = (values - values.mean()) / (values.std() or 1.0)
    return Points(X, values[:, None], "regress", [], (x, y))
