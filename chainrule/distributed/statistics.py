"""Statistics of data spread over ranks, each rank holding some of the rows: what a
reader needs to standardise and label every rank's rows alike."""

from __future__ import annotations

import numpy as np

from .communicator import Communicator


def global_mean_and_std(X: np.ndarray, comm: Communicator) -> tuple[np.ndarray, np.ndarray, int]:
    """The per-column mean and (population) standard deviation over every rank's rows of
    ``X``, and the number of rows:

        n = sum_r n_r,   mean = (1/n) sum_i x_i,   std = sqrt((1/n) sum_i (x_i - mean)^2)

    in two allreduces (sums, then squared deviations from the global mean: the two-pass
    form, which does not cancel as sum x^2 - n mean^2 can)."""
    X = np.asarray(X, dtype=np.float64)
    sums = np.concatenate([X.sum(axis=0), [len(X)]])
    comm.allreduce_sum(sums)
    n = int(sums[-1])
    if n == 0:
        raise ValueError("no rank holds any rows")
    mean = sums[:-1] / n
    squares = ((X - mean) ** 2).sum(axis=0)
    comm.allreduce_sum(squares)
    return mean, np.sqrt(squares / n), n


def global_labels(y: np.ndarray, comm: Communicator) -> np.ndarray:
    """The distinct values of ``y`` over every rank, sorted, the same array on each
    rank.  Text labels are gathered as text, numbers as numbers."""
    values = np.asarray(y)
    if values.dtype.kind == "O":
        values = values.astype(str)
    parts = comm.allgather(np.unique(values))
    kinds = {part.dtype.kind for part in parts if part.size}
    if len(kinds) > 1:  # some ranks read numbers, others text: compare as text
        parts = [part.astype(str) for part in parts]
    return np.unique(np.concatenate(parts))
