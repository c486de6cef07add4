"""Data-parallel training's one small interface: who am I (rank, size), broadcast the
initial state, allreduce a flat gradient buffer, gather a few values, agree on a
decision.  :class:`SingleProcess` does nothing, so ``fit`` has one code path;
:class:`MPICommunicator` runs the same calls over mpi4py (the ``mpi`` extra)."""

from .communicator import (
    Communicator,
    MPICommunicator,
    SingleProcess,
    launched_under_mpi,
    resolve,
)
from .statistics import global_labels, global_mean_and_std

__all__ = [
    "Communicator",
    "MPICommunicator",
    "SingleProcess",
    "global_labels",
    "global_mean_and_std",
    "launched_under_mpi",
    "resolve",
]
