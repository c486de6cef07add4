"""BLAS in one thread for a model's predictions.

A prediction's matrix products are small (a batch of rows times a layer's weights), and
OpenBLAS spreads each product over every core: on a busy machine each product waits for
its threads to be scheduled, and while a file is predicted its threads take the cores from
Arrow's CSV parser.  Measured on 2 shared cores, 1M rows x 20 features through a 20-64-3
network: 4 s in the products with OpenBLAS's default threads, 0.05 s in one thread.

The thread count also moves the last bits of float32 results (OpenBLAS gives a thread's
rows to a different kernel path than one thread would), so with one thread a model's
predictions are the same bytes on any number of cores and at any load.

The limit is the process's: nested and concurrent uses count, and the first to enter
sets it, the last to leave restores it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_users = 0
_restore: Any = None  # threadpoolctl's limiter while some caller is inside
_controller: Any = None  # the BLAS libraries loaded (found once: a scan of the process)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Within the block, BLAS (OpenBLAS, MKL, BLIS) computes in one thread."""
    global _users, _restore, _controller
    with _lock:
        if _users == 0:
            if _controller is None:
                from threadpoolctl import ThreadpoolController

                _controller = ThreadpoolController()
            _restore = _controller.limit(limits=1, user_api="blas")
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                _restore.restore_original_limits()
                _restore = None
