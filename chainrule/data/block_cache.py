"""A data file's blocks kept on disk as the arrays training reads, after their first read.

Streaming a CSV file parses its text again each epoch, and Arrow's parser (about 300 MB
of text a second on two cores) is slower than training on the rows it gives: one epoch
over 1M rows of 20 features took 2.0 s streamed and 0.5 s in memory.  (Decoding Parquet
and encoding the labels cost less, but still a quarter of an epoch.)  A
:class:`BlockCache` reads each block through the reader and the caller's ``transform``
(the standardisation and label encoding) the first time it is asked for, appends the
arrays it gives (float32 features, targets, row indices: about a fifth of a CSV file's
size) to a temporary file, and reads them back from there on every later request, at
the speed of the disk or the page cache.  This is what ``tf.data``'s ``cache(filename)``
does.

The cached arrays are the very ones the transform gave, so training reads the same
numbers with or without the cache.  The file is created already unlinked
(``tempfile.TemporaryFile``), so nothing is left behind however the process ends, even
killed; it holds at most the data once.  Memory holds nothing more than a block.
Blocks are read one at a time (the streaming source reads ahead in one thread), so the
cache needs no lock.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .blocks import blocks_in_order

Transform = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class _Entry:
    offset: int
    rows: int
    width: int
    features: np.dtype
    target: np.dtype


class BlockCache:
    """A block reader over ``reader`` whose blocks are ``transform(features, target)``
    with their row indices, each read from ``reader`` once and then from a temporary
    file in ``folder`` (see :func:`default_folder`).  Close it (or use it
    as a context manager) to give the disk space back."""

    background_reads = True  # one read at a time, from any thread (read_ahead)

    def __init__(
        self,
        reader: Any,
        transform: Transform,
        dtype: Any = np.float32,
        folder: str | os.PathLike | None = None,
    ) -> None:
        self.reader, self.transform, self.dtype = reader, transform, np.dtype(dtype)
        self.feature_names = list(reader.feature_names)
        self.n_blocks = int(reader.n_blocks)
        # closed by close(): the cache lives as long as the training that reads it
        self.file = tempfile.TemporaryFile(prefix="chainrule-cache-", dir=folder)  # noqa: SIM115
        self.size = 0
        self.entries: dict[int, _Entry] = {}

    def read_block(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        entry = self.entries.get(i)
        if entry is not None:
            return self._cached(entry)
        return self._store(i, *self.reader.read_block(i))

    def fill(self, check: Callable[[], None] | None = None) -> None:
        """Read every block, in order, in one pass over the file
        (:func:`~chainrule.data.blocks.blocks_in_order`); ``check()`` after each block."""
        for i, block in enumerate(blocks_in_order(self.reader)):
            if i not in self.entries:
                self._store(i, *block)
            if check is not None:
                check()

    def _store(
        self, i: int, features: np.ndarray, target: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Block i's arrays, transformed, appended to the file and given back."""
        features, target = self.transform(features, target)
        features = np.ascontiguousarray(features, dtype=self.dtype)
        target = np.ascontiguousarray(target)
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        entry = _Entry(self.size, len(rows), features.shape[1], features.dtype, target.dtype)
        for part in (features, target, rows):
            self._write(part)
        self.entries[i] = entry
        return features, target, rows

    def _write(self, array: np.ndarray) -> None:
        if array.size == 0:  # a block of no rows (an empty row group, all rows dropped)
            return
        data = memoryview(array).cast("B")
        written = 0
        while written < len(data):  # a write may take fewer bytes than given
            written += os.pwrite(self.file.fileno(), data[written:], self.size + written)
        self.size += len(data)

    def _cached(self, entry: _Entry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        features = np.empty((entry.rows, entry.width), dtype=entry.features)
        target = np.empty(entry.rows, dtype=entry.target)
        rows = np.empty(entry.rows, dtype=np.int64)
        offset = entry.offset
        for part in (features, target, rows):
            if part.size == 0:
                continue
            view = memoryview(part).cast("B")
            done = 0
            while done < len(view):
                got = os.preadv(self.file.fileno(), [view[done:]], offset + done)
                if got == 0:
                    raise OSError(f"the block cache {self.file.name} is shorter than written")
                done += got
            offset += len(view)
        return features, target, rows

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> BlockCache:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def cache_bytes(rows: int, width: int, dtype: Any = np.float32) -> int:
    """What a cache of ``rows`` rows of ``width`` features takes on disk (the targets
    and row indices at 8 bytes each)."""
    return rows * (width * np.dtype(dtype).itemsize + 16)


def free_bytes(folder: str | os.PathLike) -> int:
    """The free space where :class:`BlockCache` would write."""
    return shutil.disk_usage(folder).free


def default_folder(data: str | os.PathLike) -> Path | None:
    """Where a cache of the data file ``data`` goes unless told: the system's temporary
    folder, unless that lives in memory (tmpfs, as /tmp often does), where a cache
    would take the memory streaming saves; then the data's own folder (the file has no
    name there either), if it may be written; else None."""
    temporary = Path(tempfile.gettempdir())
    if not in_memory(temporary):
        return temporary
    path = Path(data)
    folder = path if path.is_dir() else path.parent
    return folder if os.access(folder, os.W_OK) and not in_memory(folder) else None


def in_memory(folder: str | os.PathLike, mounts: str = "/proc/mounts") -> bool:
    """Whether ``folder`` is on a file system kept in memory (tmpfs, ramfs), by the
    longest mount point of ``mounts`` it lies under; False when that is unknown."""
    where = os.path.realpath(folder)
    try:
        with open(mounts, encoding="utf-8") as table:
            entries = [line.split() for line in table]
    except OSError:
        return False
    best, kind = "", ""
    for entry in entries:
        if len(entry) < 3:
            continue
        point = entry[1].encode().decode("unicode_escape")  # "\040" is a space
        inside = where == point or where.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, entry[2]
    return kind in ("tmpfs", "ramfs")
