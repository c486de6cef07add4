"""Writing output files safely.

A regular file (or a path that does not exist yet) is written atomically: into a temporary
file beside it, synced, then renamed over it, so a reader never sees a half-written file and
a failed or interrupted write leaves nothing behind.  The new file gets the mode of the
file it replaces (and, when allowed, its owner), or for a new file the mode the umask gives
(``0o666 & ~umask``), as ``open()`` would.

A symbolic link is followed: its target is written, the link stays.  Anything else that
exists and is not a regular file (a device such as ``/dev/null``, a FIFO) is written in
place, as the shell's ``>`` does: renaming over it would replace the device node by a file.
So is a path through an open descriptor (``/dev/stdout``, ``/dev/fd/N``).

Errors that come from writing (no space left, file too large, quota) name the file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# errno values only a write can give: the error is about the file being written
_WRITE_ERRORS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


@dataclass(frozen=True)
class _Destination:
    shown: Path  # the path as given, for messages
    real: Path  # the file to write: for a regular file, the path with links resolved
    folder: Path  # real's folder, where the temporary file goes
    existing: os.stat_result | None  # real's status if it exists
    in_place: bool = False  # a device, FIFO or socket, or a file open as a descriptor


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """A file handle for writing ``path``.

    For a regular file or a new path, the handle is on a temporary file
    ``.NAME.<random>.tmp`` in the folder of ``path`` (of its target, for a symbolic link);
    on success it is synced and renamed to the target (``os.replace``), on any exception
    (KeyboardInterrupt and the command line's SIGTERM included) it is removed and the
    target is untouched.  Only a process killed outright (SIGKILL, power loss) can leave
    such a ``.NAME.*.tmp`` file beside the target; it is safe to delete.

    A device, FIFO or other special file is opened and written in place; so is a file
    reached through a descriptor (``-o /dev/stdout > log``), appended to, as the shell's
    descriptor would write it.
    """
    destination = _destination(path)
    if destination.in_place:
        if stat.S_ISREG(destination.existing.st_mode):  # a file the shell opened: append
            mode = mode.replace("w", "a")
        with _naming_the_file(destination.shown), open(destination.real, mode, **kwargs) as stream:
            yield stream
        return
    handle, temporary = _temporary_beside(destination)
    try:
        _give_mode_and_owner(handle, destination.existing)
        with _naming_the_file(destination.shown), os.fdopen(handle, mode, **kwargs) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, destination.real)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`open_atomic`)."""
    with open_atomic(path, "wb") as stream:
        stream.write(data)


def check_writable(path: str | os.PathLike) -> None:
    """Fail now, not after an hour of training, if ``path`` cannot be written."""
    destination = _destination(path)
    if destination.in_place:
        if not os.access(destination.real, os.W_OK):
            raise PermissionError(f"cannot write {destination.shown}: permission denied")
        return
    handle, temporary = _temporary_beside(destination)
    os.close(handle)
    os.unlink(temporary)


def check_not_an_input(
    output: str | os.PathLike, inputs: Iterable[str | os.PathLike | None]
) -> None:
    """Refuse to write ``output`` if it is one of ``inputs``: the same file by device and
    inode, so also through a symbolic or hard link.  Writing it would destroy the input."""
    for source in inputs:
        if source is None or not _is_regular_file(output) or not _is_regular_file(source):
            continue
        if os.path.samefile(output, source):
            same = "" if str(output) == str(source) else " (the same file)"
            raise ValueError(
                f"cannot write {output}: it is the input {source}{same}; "
                "writing it would destroy the input, choose another output file"
            )


def _is_regular_file(path: str | os.PathLike) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _destination(path: str | os.PathLike) -> _Destination:
    """Where writing ``path`` goes; its folder must exist and it must not be a folder.

    A special file is opened by the name given (``/dev/stdout`` leads through
    ``/proc/self/fd/1`` to a pipe that has no path), and so is a file reached through a
    descriptor (``-o /dev/stdout >> log``: the shell's open file is written, as it opened
    it); any other regular file by its real path."""
    shown = Path(path)
    try:
        existing = os.stat(shown)
    except FileNotFoundError:
        existing = None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise IsADirectoryError(f"cannot write {shown}: it is a folder")
    if existing is not None and (not stat.S_ISREG(existing.st_mode) or _through_descriptor(shown)):
        return _Destination(shown, shown, shown.parent, existing, in_place=True)
    real = Path(os.path.realpath(shown))
    folder = real.parent
    if not folder.is_dir():
        named = shown.parent if os.path.realpath(shown.parent) == str(folder) else folder
        raise FileNotFoundError(f"cannot write {shown}: folder {named} does not exist")
    return _Destination(shown, real, folder, existing)


def _through_descriptor(path: Path) -> bool:
    """Whether ``path`` leads through an open file descriptor (/dev/stdout, /dev/fd/N,
    /proc/PID/fd/N), following its chain of symbolic links."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on links followed
        if re.fullmatch(r"/proc/[^/]+/fd/\d+|/dev/fd/\d+", current):
            return True
        if not os.path.islink(current):
            return False
        current = os.path.normpath(os.path.join(os.path.dirname(current), os.readlink(current)))
    return False


def _temporary_beside(destination: _Destination) -> tuple[int, str]:
    try:
        return tempfile.mkstemp(
            prefix=f".{destination.real.name}.", suffix=".tmp", dir=destination.folder
        )
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise PermissionError(
            f"cannot write {destination.shown}: {reason} in {destination.folder}"
        ) from None


def _give_mode_and_owner(handle: int, existing: os.stat_result | None) -> None:
    """The temporary file (created 0600) takes the replaced file's mode and, where the
    process may set it, its owner; a new file takes the umask's mode."""
    if existing is None:
        os.fchmod(handle, 0o666 & ~_umask())
        return
    if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(OSError):
            os.fchown(handle, existing.st_uid, existing.st_gid)
    os.fchmod(handle, stat.S_IMODE(existing.st_mode))


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _naming_the_file(shown: Path) -> Iterator[None]:
    """An error of writing (ENOSPC, EFBIG, EDQUOT) names the file it was writing."""
    try:
        yield
    except OSError as error:
        if error.filename is None and error.errno in _WRITE_ERRORS:
            raise OSError(error.errno, error.strerror, str(shown)) from None
        raise
