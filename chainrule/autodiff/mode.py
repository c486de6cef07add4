"""Thread-local switches of the engine: gradient recording and anomaly detection.

They are thread-local, as in PyTorch, so that ``no_grad()`` in one thread (say, a
``predict`` running in a thread pool) never silently disables recording in another.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .arrays import FLOAT_KINDS, array_module


class _State(threading.local):
    grad_enabled: bool = True
    detect_anomaly: bool = False


state = _State()


def is_grad_enabled() -> bool:
    """Whether gates currently record the graph needed by ``backward``."""
    return state.grad_enabled


@contextmanager
def _set_grad_enabled(enabled: bool) -> Iterator[None]:
    previous = state.grad_enabled
    state.grad_enabled = enabled
    try:
        yield
    finally:
        state.grad_enabled = previous


def no_grad():
    """Context in which no gate records anything: outputs have no graph and no gradient.

    Use it for inference and for parameter updates.
    """
    return _set_grad_enabled(False)


def enable_grad():
    """Context that turns recording back on, e.g. inside a ``no_grad()`` block."""
    return _set_grad_enabled(True)


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Context in which the first gate whose output (forward) or input gradient
    (backward) holds NaN or inf raises :class:`AnomalyError` naming the gate and shapes.

    It checks every array the engine produces, so it is slow: use it to find a bug,
    not to train.
    """
    previous = state.detect_anomaly
    state.detect_anomaly = True
    try:
        yield
    finally:
        state.detect_anomaly = previous


class AnomalyError(FloatingPointError):
    """A gate produced NaN or inf while ``detect_anomaly()`` was on."""


def check_finite(array: Any, gate: Any, phase: str, inputs: Sequence[Any]) -> None:
    """Raise :class:`AnomalyError` if ``array`` holds NaN or inf (for detect_anomaly)."""
    if array is None or array.dtype.kind not in FLOAT_KINDS:
        return
    if not bool(array_module(array).isfinite(array).all()):
        shapes = ", ".join(str(getattr(a, "shape", ())) for a in inputs)
        what = "output" if phase == "forward" else "input gradient"
        raise AnomalyError(
            f"gate '{gate.name}' produced NaN or inf in its {what} during {phase} "
            f"(input shapes: {shapes}; result shape: {array.shape})"
        )
