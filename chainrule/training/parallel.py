"""Data-parallel training over a :class:`~chainrule.distributed.Communicator`.

The ranks together train as one process would on all their rows.  Every row has a
global index: with ``shard=True`` (each rank given the whole data, keeping rows
rank::size) its row number in the whole data; with each rank given its own shard, its
place in the shards laid end to end in rank order.  Each epoch draws one permutation of
the global indices from the shared seed, exactly as one process's DataLoader draws it,
and global batch k is its k-th slice of ``batch_size``: each rank takes the rows of that
slice that it holds (perhaps none).

The loss of a global batch is a weighted mean over its rows,

    L = (1/W) sum_i w_i l_i,   W = sum_i w_i   (w_i = 1 without sample weights),

and rank r's own loss is L_r = (1/W_r) sum_{i in r} w_i l_i.  So L = sum_r (W_r/W) L_r:
each rank backpropagates with the gradient scaled by its share W_r/W, and the sum of the
ranks' gradients (one allreduce of one flat buffer) is the gradient of L.  The shares
of an epoch's batches are known before it starts (one small allreduce per epoch).  The
flat buffer also carries each rank's W_r/W L_r, whose sum is L, and an interrupt flag,
so every rank sees the same loss and takes the same decisions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..distributed import Communicator
from ..nn import Module
from ..optim import Optimizer
from .data import DataError


def shard_rows(n: int, rank: int, size: int) -> np.ndarray:
    """The rows rank r of ``size`` keeps of ``n``: r, r + size, r + 2 size, ..."""
    return np.arange(rank, n, size)


@contextlib.contextmanager
def raise_together(comm: Communicator) -> Iterator[None]:
    """Run the block on every rank; if it raised a ValueError (a DataError, a bad
    argument) on any rank, raise on every rank, so none waits in a collective for one
    that gave up.  A rank that failed raises its own error, the others a DataError with
    the first failing rank's message."""
    error: ValueError | None = None
    try:
        yield
    except ValueError as caught:
        error = caught
    messages = comm.allgather(None if error is None else str(error))
    if error is not None:
        raise error
    for rank, message in enumerate(messages):
        if message is not None:
            raise DataError(f"rank {rank}: {message}")


def broadcast_start(comm: Communicator, model: Module, optimizer: Optimizer) -> None:
    """Give every rank rank 0's weights and optimizer state (step count, buffers)."""
    for p in model.parameters():
        comm.broadcast(p.data)
    own = optimizer.state_dict()
    buffers = {
        name: [None if b is None else [list(b.shape), b.dtype.str] for b in entries]
        for name, entries in own["buffers"].items()
    }
    root = comm.broadcast_object(
        {"steps": own["steps"], "updates": own["updates"], "buffers": buffers}
    )
    state = dict(own, steps=root["steps"], updates=root["updates"])
    state["buffers"] = {}
    for name, layout in root["buffers"].items():
        mine = own["buffers"].get(name, [None] * len(layout))
        arrays = []
        for entry, kept in zip(layout, mine, strict=True):
            if entry is None:
                arrays.append(None)
                continue
            array = kept if comm.rank == 0 else np.empty(entry[0], dtype=np.dtype(entry[1]))
            array = np.ascontiguousarray(array)
            comm.broadcast(array)
            arrays.append(array)
        state["buffers"][name] = arrays
    if comm.rank != 0:
        optimizer.load_state_dict(state)


def global_layout(n_local: int, comm: Communicator, strided: bool) -> tuple[np.ndarray, int]:
    """The global index of each local row, and the number of rows on all ranks: with
    ``strided`` the rows rank::size of the whole data, else the shards end to end."""
    counts = comm.allgather(n_local)
    total = sum(counts)
    if strided:  # checked on every rank's count, so every rank decides alike
        for rank, count in enumerate(counts):
            expected = len(shard_rows(total, rank, comm.size))
            if count != expected:
                raise DataError(
                    f"rank {rank} has {count} rows, but rows rank::size of {total} are {expected}"
                )
        return shard_rows(total, comm.rank, comm.size), total
    offset = sum(counts[: comm.rank])
    return np.arange(offset, offset + n_local), total


def split_validation(
    arrays: Sequence[np.ndarray | None],
    owned: np.ndarray,
    total: int,
    fraction: float,
    rng: np.random.Generator,
) -> tuple[list[Any], np.ndarray, int, list[Any]]:
    """``fit``'s validation_split over all ranks' rows: the permutation one process
    would draw over ``total`` rows; the first ``round(total fraction)`` of it are held
    out.  Returns this rank's training arrays, their global indices among the training
    rows (their places in that permutation), the number of training rows, and this
    rank's validation arrays."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {fraction}")
    n_val = round(total * fraction)
    if n_val < 1 or n_val >= total:
        raise DataError(
            f"validation_split={fraction} leaves no training or no validation samples from {total}"
        )
    place = np.empty(total, dtype=np.int64)
    place[rng.permutation(total)] = np.arange(total)
    mine = place[owned]
    val, train = np.flatnonzero(mine < n_val), np.flatnonzero(mine >= n_val)
    pick = [lambda a, rows=rows: None if a is None else a[rows] for rows in (train, val)]
    return (
        [pick[0](a) for a in arrays],
        mine[train] - n_val,
        total - n_val,
        [pick[1](a) for a in arrays],
    )


class GlobalBatches:
    """One epoch after another, this rank's part of each global batch (see the module's
    docstring); ``shares[k]`` is its W_r/W for batch k of the current epoch and
    ``rows[k]`` the global batch's number of rows."""

    def __init__(
        self,
        comm: Communicator,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        owned: np.ndarray,
        total: int,
        batch_size: int,
        shuffle: bool,
        rng: np.random.Generator,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.comm, self.X, self.y, self.w = comm, X, y, sample_weight
        self.total, self.batch_size, self.shuffle, self.rng = total, batch_size, shuffle, rng
        self.local_of = np.full(total, -1, dtype=np.int64)
        self.local_of[owned] = np.arange(len(owned))
        starts = np.arange(0, total, batch_size)
        self.rows = np.minimum(starts + batch_size, total) - starts
        self.shares = np.zeros(len(starts))

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        order = self.rng.permutation(self.total) if self.shuffle else np.arange(self.total)
        local = self.local_of[order]
        mine = local >= 0
        weight = mine.astype(np.float64)
        if self.w is not None:
            weight[mine] = self.w[local[mine]]
        batch_of = np.arange(self.total) // self.batch_size
        sums = np.bincount(batch_of, weights=weight, minlength=len(self))
        totals = sums.copy()
        self.comm.allreduce_sum(totals)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.shares = sums / totals
        B = self.batch_size
        for k in range(len(self)):
            part = local[k * B : (k + 1) * B]
            index = part[part >= 0]
            batch = [self.X[index], self.y[index]]
            if self.w is not None:
                batch.append(self.w[index])
            yield tuple(batch)


class GradientSum:
    """Sums the ranks' gradients of the optimizer's parameters in one allreduce of one
    flat buffer: [every gradient, end to end | the rank's share of the loss | its
    interrupt flag].  After :meth:`reduce` each parameter's ``grad`` is its part of the
    summed buffer."""

    def __init__(self, comm: Communicator, optimizer: Optimizer) -> None:
        self.comm = comm
        self.params = [p for p in optimizer.params if p.requires_grad]
        dtypes = {p.data.dtype for p in self.params}
        if len(dtypes) != 1:
            raise ValueError(
                "data-parallel training needs parameters of one dtype, got "
                f"{sorted(map(str, dtypes))}"
            )
        sizes = [p.data.size for p in self.params]
        self.buffer = np.zeros(sum(sizes) + 2, dtype=dtypes.pop())
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        self.parts = [
            self.buffer[a:b].reshape(p.data.shape)
            for a, b, p in zip(bounds[:-1], bounds[1:], self.params, strict=True)
        ]

    def reduce(self, loss_share: float, interrupted: bool) -> tuple[float, bool]:
        """Allreduce the gradients (a parameter without one counts as zeros), the loss
        shares and the flags; return the global batch loss and whether any rank was
        interrupted."""
        buffer = self.buffer
        for p, part in zip(self.params, self.parts, strict=True):
            grad = p._grad
            if grad is None:
                part.fill(0)
            else:
                part[...] = grad
            p._grad = part
            p._grad_owned = False  # the buffer is reused next step
        buffer[-2] = loss_share
        buffer[-1] = 1.0 if interrupted else 0.0
        self.comm.allreduce_sum(buffer)
        return float(buffer[-2]), bool(buffer[-1] > 0)


def global_sum(comm: Communicator, *values: float) -> list[float]:
    """The sum over ranks of each value (one allreduce)."""
    buffer = np.array(values, dtype=np.float64)
    comm.allreduce_sum(buffer)
    return buffer.tolist()


def gather_rows(comm: Communicator, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Every rank's ``arrays`` (concatenated along rows), as one list in rank order."""
    mine = np.concatenate(arrays) if arrays else np.empty(0)  # every rank must call
    return [part for part in comm.allgather(mine) if len(part)]
