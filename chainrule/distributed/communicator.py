"""The communicator: rank, size and the four collectives data-parallel training needs.

Horovod's model of synchronous SGD: every rank starts from rank 0's weights
(:meth:`Communicator.broadcast`), computes gradients on its own rows, and the gradients
are summed over the ranks (:meth:`Communicator.allreduce_sum`, one call per step on one
flat buffer) before every rank applies the same update.  Small values (row counts, class
labels, error messages) travel by :meth:`Communicator.allgather`; a stop decision by
:meth:`Communicator.agree`.

Only NumPy buffers and JSON cross between processes (mpi4py's upper-case, buffer-based
calls): nothing is pickled.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any, Protocol, runtime_checkable

import numpy as np

# set by the launchers in every rank: Open MPI's mpirun, and PMI-based ones (MPICH, Slurm)
LAUNCH_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE")


@runtime_checkable
class Communicator(Protocol):
    """What training needs of a group of processes that run the same program."""

    rank: int
    size: int

    def broadcast(self, array: np.ndarray, root: int = 0) -> None:
        """Overwrite ``array`` (contiguous) on every rank with ``root``'s, in place."""

    def broadcast_object(self, value: Any, root: int = 0) -> Any:
        """``root``'s ``value`` (JSON data: numbers, strings, lists, dicts) on every rank."""

    def allreduce_sum(self, buffer: np.ndarray) -> None:
        """Replace ``buffer`` (a contiguous float array) on every rank by the element-wise
        sum of every rank's, in place."""

    def allgather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank: a NumPy array (any shape
        and dtype, numbers or text) or JSON data."""

    def agree(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is True on any rank."""


class SingleProcess:
    """One process alone: rank 0 of 1; every collective returns what it was given."""

    rank = 0
    size = 1

    def broadcast(self, array: np.ndarray, root: int = 0) -> None:
        pass

    def broadcast_object(self, value: Any, root: int = 0) -> Any:
        return value

    def allreduce_sum(self, buffer: np.ndarray) -> None:
        pass

    def allgather(self, value: Any) -> list[Any]:
        return [value]

    def agree(self, flag: bool) -> bool:
        return bool(flag)

    def __repr__(self) -> str:
        return "SingleProcess()"


class MPICommunicator:
    """The collectives over an mpi4py communicator (``MPI.COMM_WORLD`` by default)."""

    def __init__(self, comm: Any = None) -> None:
        mpi = _import_mpi()
        self._mpi = mpi
        self.comm = mpi.COMM_WORLD if comm is None else comm
        self.rank = int(self.comm.Get_rank())
        self.size = int(self.comm.Get_size())

    def broadcast(self, array: np.ndarray, root: int = 0) -> None:
        if not array.flags.c_contiguous:
            raise ValueError("broadcast needs a contiguous array")
        self.comm.Bcast(array, root=root)

    def broadcast_object(self, value: Any, root: int = 0) -> Any:
        data = _encode(value) if self.rank == root else b""
        length = np.array([len(data)], dtype=np.int64)
        self.comm.Bcast(length, root=root)
        buffer = np.frombuffer(data, dtype=np.uint8).copy() if self.rank == root else None
        if buffer is None:
            buffer = np.empty(int(length[0]), dtype=np.uint8)
        self.comm.Bcast(buffer, root=root)
        return _decode(buffer.tobytes())

    def allreduce_sum(self, buffer: np.ndarray) -> None:
        if not buffer.flags.c_contiguous:
            raise ValueError("allreduce_sum needs a contiguous array")
        self.comm.Allreduce(self._mpi.IN_PLACE, buffer, op=self._mpi.SUM)

    def allgather(self, value: Any) -> list[Any]:
        if isinstance(value, np.ndarray):
            return self._allgather_arrays(value)
        return [_decode(part) for part in self._allgather_bytes(_encode(value))]

    def agree(self, flag: bool) -> bool:
        votes = np.array([1.0 if flag else 0.0])
        self.allreduce_sum(votes)
        return bool(votes[0] > 0)

    def _allgather_bytes(self, data: bytes) -> list[bytes]:
        """Every rank's bytes: the lengths by Allgather, then the bytes by Allgatherv."""
        lengths = np.zeros(self.size, dtype=np.int64)
        self.comm.Allgather(np.array([len(data)], dtype=np.int64), lengths)
        received = np.empty(int(lengths.sum()), dtype=np.uint8)
        sent = np.frombuffer(data, dtype=np.uint8)
        self.comm.Allgatherv(sent, [received, lengths.tolist()])
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        return [received[a:b].tobytes() for a, b in itertools.pairwise(bounds)]

    def _allgather_arrays(self, array: np.ndarray) -> list[np.ndarray]:
        """Each rank's array: its shape and dtype as JSON, its bytes as raw bytes."""
        if array.dtype.kind not in "biufcUS":
            raise TypeError(f"allgather takes numeric or text arrays, got dtype {array.dtype}")
        contiguous = np.ascontiguousarray(array)
        headers = self.allgather({"shape": list(contiguous.shape), "dtype": contiguous.dtype.str})
        parts = self._allgather_bytes(contiguous.tobytes())
        return [
            np.frombuffer(part, dtype=np.dtype(h["dtype"])).reshape(h["shape"]).copy()
            for h, part in zip(headers, parts, strict=True)
        ]

    def __repr__(self) -> str:
        return f"MPICommunicator(rank={self.rank}, size={self.size})"


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def _decode(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"))


def _import_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(
            "data-parallel training needs mpi4py and an MPI library: "
            'pip install "chainrule[mpi]" (and e.g. apt-get install openmpi-bin libopenmpi-dev)'
        ) from error
    return MPI


def launched_under_mpi() -> bool:
    """Whether this process was started by an MPI launcher with more than one rank."""
    for name in LAUNCH_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            return True
    return False


def resolve(comm: Any = None) -> Communicator:
    """The communicator for ``comm``: None gives :class:`SingleProcess`; ``"auto"`` an
    :class:`MPICommunicator` on ``MPI.COMM_WORLD`` when the process was launched by
    ``mpirun`` (or srun, mpiexec) with more than one rank, else SingleProcess; an mpi4py
    communicator is wrapped; a :class:`Communicator` is returned as it is."""
    if comm is None:
        return SingleProcess()
    if isinstance(comm, str):
        if comm != "auto":
            raise ValueError(f"comm must be None, 'auto' or a communicator, got {comm!r}")
        return MPICommunicator() if launched_under_mpi() else SingleProcess()
    if isinstance(comm, (SingleProcess, MPICommunicator)):
        return comm
    if hasattr(comm, "Allreduce") and hasattr(comm, "Get_rank"):
        return MPICommunicator(comm)
    if isinstance(comm, Communicator):
        return comm
    raise TypeError(
        f"comm must be None, 'auto', an mpi4py communicator or a Communicator, got "
        f"{type(comm).__name__}"
    )
