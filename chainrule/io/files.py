"""Atomic file writing: write beside the target, then rename, so a reader never sees a
half-written file and a failed write leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """A file handle on a temporary file in ``path``'s folder; on success it is synced and
    renamed to ``path`` (``os.replace``), on any error removed, the target untouched."""
    target, folder = _target_and_folder(path)
    handle, temporary = _temporary_beside(target, folder)
    try:
        with os.fdopen(handle, mode, **kwargs) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _target_and_folder(path: str | os.PathLike) -> tuple[Path, Path]:
    """The file to write and its folder, which must exist (the file must not be a folder)."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {target}: folder {folder} does not exist")
    if target.is_dir():
        raise IsADirectoryError(f"cannot write {target}: it is a folder")
    return target, folder


def _temporary_beside(target: Path, folder: Path) -> tuple[int, str]:
    try:
        return tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise PermissionError(f"cannot write {target}: {reason} in {folder}") from None


def check_writable(path: str | os.PathLike) -> None:
    """Fail now, not after an hour of training, if ``path`` cannot be written."""
    target, folder = _target_and_folder(path)
    handle, temporary = _temporary_beside(target, folder)
    os.close(handle)
    os.unlink(temporary)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`open_atomic`)."""
    with open_atomic(path, "wb") as stream:
        stream.write(data)
