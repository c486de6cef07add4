"""Ctrl-C and SIGTERM while files are read and written.

NumPy's conversion of text to numbers can swallow an exception raised by a signal handler
in its middle: a KeyboardInterrupt is then lost (the program runs on) or comes out as an
unrelated TypeError.  Code that reads or writes a large file chunk by chunk therefore takes
SIGINT and SIGTERM as a note (:func:`deferred_interrupts`) and acts on it between chunks,
where raising is safe; the exception then unwinds through :func:`open_atomic`, which removes
its temporary file.

:func:`sigterm_raises` makes SIGTERM raise :class:`Terminated`, as SIGINT raises
KeyboardInterrupt, so a terminated command cleans up too (the command line uses it).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


class Terminated(BaseException):
    """The process received SIGTERM (under :func:`sigterm_raises`)."""


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (in the main thread)."""

    def handler(signum: int, frame: Any) -> None:
        raise Terminated

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[Callable[[], None]]:
    """Within the block, SIGINT and SIGTERM are only noted; the ``check()`` it gives runs
    the handler a noted signal would have run (raising KeyboardInterrupt, or Terminated),
    and is run once more when the block ends.  A second signal acts at once.

    Only signals handled by Python functions are deferred (a SIGTERM left to the system
    still ends the process), and only in the main thread."""
    previous: dict[int, Callable[[int, Any], Any]] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(signum)
            if callable(handler):
                previous[signum] = handler
    pending: list[int] = []

    def note(signum: int, frame: Any) -> None:
        if pending:
            previous[signum](signum, frame)
        pending.append(signum)

    def check() -> None:
        if pending:
            signum = pending.pop(0)
            previous[signum](signum, None)

    for signum in previous:
        signal.signal(signum, note)
    try:
        yield check
        check()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
