"""Ctrl-C and SIGTERM while Arrow works.

Arrow catches SIGINT and SIGTERM itself during a long call, cancels the call and raises
``ArrowCancelled`` ("received signal 2"): the program's own handlers never see the signal.
:func:`arrow_call` hands such a signal back to them (``signal.raise_signal``), so Ctrl-C
and SIGTERM act as anywhere else: a handler that raises (KeyboardInterrupt, the command
line's Terminated) raises here; one that only notes it (``deferred_interrupts``) notes it,
and the call is made again, to be stopped between chunks.
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
        try:
            return function()
        except pa.ArrowCancelled as error:
            signal.raise_signal(received_signal(error))
