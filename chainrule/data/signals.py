"""Ctrl-C and SIGTERM while Arrow works.

Arrow catches SIGINT and SIGTERM itself during a long call (swapping the process's signal
handlers for its own and back), cancels the call and raises ``ArrowCancelled``: the
program's own handlers never see the signal, and one arriving while the handlers are
swapped can kill the process outright.  :func:`arrow_call` turns Arrow's handling off for
the call (``pyarrow.enable_signal_handlers(False)``; on again after, Arrow's default), so a
signal goes to the program's handlers, which act when the call returns: one that raises
(KeyboardInterrupt, the command line's Terminated) raises then; one that only notes it
(``deferred_interrupts``) notes it, to stop between chunks.  Should Arrow cancel a call
all the same, the signal is handed back (``signal.raise_signal``) and the call made again.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from typing import TypeVar

import pyarrow as pa

T = TypeVar("T")


def received_signal(error: pa.ArrowCancelled) -> int:
    """The signal named in Arrow's message (SIGINT if it names none)."""
    found = re.search(r"signal (\d+)", str(error))
    return int(found.group(1)) if found else int(signal.SIGINT)


def arrow_call(function: Callable[[], T]) -> T:
    """``function()``, made again if a signal cancelled it after the signal was handed to
    the program's handler (which may raise)."""
    while True:
        pa.enable_signal_handlers(False)
        try:
            return function()
        except pa.ArrowCancelled as error:
            signum = received_signal(error)
        finally:
            pa.enable_signal_handlers(True)
        signal.raise_signal(signum)
