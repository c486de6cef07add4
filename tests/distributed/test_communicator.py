"""The communicator without MPI: the single process, resolving ``comm=``, and fit's
one code path through it."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.distributed import (
    MPICommunicator,
    SingleProcess,
    global_labels,
    global_mean_and_std,
    launched_under_mpi,
    resolve,
)
from chainrule.training.parallel import shard_rows

LAUNCH = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE")


def test_single_process_collectives_return_what_they_were_given():
    comm = SingleProcess()
    assert (comm.rank, comm.size) == (0, 1)
    buffer = np.arange(4.0)
    comm.allreduce_sum(buffer)
    comm.broadcast(buffer)
    assert buffer.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert comm.allgather({"a": 1}) == [{"a": 1}]
    assert comm.agree(True) and not comm.agree(False)


def test_resolve_none_and_auto_outside_mpirun(monkeypatch):
    for name in LAUNCH:
        monkeypatch.delenv(name, raising=False)
    assert isinstance(resolve(None), SingleProcess)
    assert isinstance(resolve("auto"), SingleProcess)
    assert not launched_under_mpi()
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "1")  # mpirun -n 1: one process
    assert isinstance(resolve("auto"), SingleProcess)
    monkeypatch.setenv("PMI_SIZE", "4")
    assert launched_under_mpi()


def test_resolve_refuses_what_is_no_communicator():
    with pytest.raises(ValueError, match="'world'"):
        resolve("world")
    with pytest.raises(TypeError, match="got int"):
        resolve(3)
    comm = SingleProcess()
    assert resolve(comm) is comm


def test_mpi_communicator_of_one_process():
    pytest.importorskip("mpi4py")  # the MPI tests under tests/mpi require it in CI
    comm = MPICommunicator()  # a singleton MPI world: no mpirun needed
    assert (comm.rank, comm.size) == (0, 1)
    buffer = np.array([1.5, 2.5])
    comm.allreduce_sum(buffer)
    assert buffer.tolist() == [1.5, 2.5]
    assert comm.broadcast_object({"seed": 3}) == {"seed": 3}
    [labels] = comm.allgather(np.array(["b", "a"]))
    assert labels.tolist() == ["b", "a"]
    assert comm.agree(True)


def test_global_statistics_of_one_rank_are_numpys():
    X = np.random.default_rng(0).normal(size=(50, 3))
    mean, std, n = global_mean_and_std(X, SingleProcess())
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(std, X.std(axis=0), rtol=1e-12)
    assert n == 50
    assert global_labels(np.array(["b", "a", "b"], dtype=object), SingleProcess()).tolist() == [
        "a",
        "b",
    ]


def test_shard_rows_cover_every_row_once():
    parts = [shard_rows(11, r, 3) for r in range(3)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(11))
    assert parts[1].tolist() == [1, 4, 7, 10]


def test_fit_with_a_single_process_communicator_is_fit_alone():
    def run(comm):
        model = cr.nn.MLP([3, 4, 1], "tanh", seed=0, dtype="float64")
        rng = np.random.default_rng(1)
        X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
        opt = cr.optim.Adam(model.parameters(), lr=0.01)
        cr.fit(model, "mse", opt, X, y, epochs=2, batch_size=8, verbose=0, seed=2, comm=comm)
        return [p.data.copy() for p in model.parameters()]

    for a, b in zip(run(None), run(SingleProcess()), strict=True):
        assert np.array_equal(a, b)


class _TwoRanksEcho:
    """Rank 0 of a pretend pair whose other rank says what this one says: enough for
    fit's checks before training, which need only allgather."""

    rank, size = 0, 2

    def broadcast(self, array, root=0):
        pass

    def broadcast_object(self, value, root=0):
        return value

    def allreduce_sum(self, buffer):
        buffer *= 2

    def allgather(self, value):
        return [value, value]

    def agree(self, flag):
        return bool(flag)


def test_data_parallel_fit_refuses_a_loss_with_a_penalty_term():
    class Penalized(cr.nn.MSELoss):
        def penalty(self, n_samples, sample_weight=None):
            return None

    model = cr.nn.MLP([2, 1], seed=0)
    X, y = np.ones((4, 2)), np.ones(4)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"without a penalty term; MSELoss\(half=False\) has one"):
        cr.fit(model, Penalized(), opt, X, y, verbose=0, seed=0, comm=_TwoRanksEcho())
    with pytest.raises(ValueError, match="shard must be False, True or 'strided'"):
        cr.fit(model, "mse", opt, X, y, verbose=0, seed=0, comm=_TwoRanksEcho(), shard="rows")
