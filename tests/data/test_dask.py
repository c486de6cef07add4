"""Dask collections: fit reads one chunk or partition at a time, on a LocalCluster bound to
127.0.0.1; scikit-learn estimators train under dask-ml's Incremental (partial_fit)."""

from __future__ import annotations

import types
import warnings

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits

import chainrule as cr
import chainrule.data.dask_blocks as dask_blocks
from chainrule import nn, optim
from chainrule.data.checks import DataError
from chainrule.sklearn import MLPClassifier


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster, timeout=60) as client,
    ):  # fmt: skip
        yield client


def digits(n=600):
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16.0, y[:n]


def weights_after(X, y, epochs=2, **kwargs):
    model = nn.MLP([64, 16, 10], "relu", "softmax", seed=7)
    history = cr.fit(
        model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), X, y,
        epochs=epochs, batch_size=32, verbose=0, seed=11, **kwargs,
    )  # fmt: skip
    return [p.data.copy() for p in model.parameters()], history


def same(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


@pytest.fixture
def computes(monkeypatch):
    """Every dask.compute the readers make: the rows each one brought back."""
    seen: list[int] = []

    def compute(*collections):
        results = dask.compute(*collections)
        seen.append(len(results[0]))
        return results

    monkeypatch.setattr(dask_blocks, "dask", types.SimpleNamespace(compute=compute))
    return seen


def test_a_dask_array_trains_one_chunk_at_a_time_in_a_shuffled_order(client, computes):
    rng = da.random.default_rng(0)
    X = rng.normal(size=(20_000, 8), chunks=(2_500, 4))  # made on the workers, chunk by chunk
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    model = nn.MLP([8, 8, 2], "relu", "softmax", seed=1)
    history = cr.fit(
        model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), X, y,
        epochs=2, batch_size=64, verbose=0, seed=3, metrics=["accuracy"],
    )  # fmt: skip
    # 8 chunks per epoch, each computed alone (features and targets in one call)
    assert computes == [2_500] * 16
    assert history["accuracy"][-1] > 0.9


def test_one_chunk_trains_as_the_array_in_memory(client):
    X, y = digits()
    expected, _ = weights_after(X, y)
    got, _ = weights_after(da.from_array(X, chunks=(len(X), 64)), da.from_array(y))
    assert same(got, expected)
    # y in memory beside a Dask X, and chunks of X and y that differ, are aligned
    chunked = da.from_array(X, chunks=(100, 64))
    a, _ = weights_after(chunked, da.from_array(y, chunks=150))
    b, _ = weights_after(chunked, y)
    assert same(a, b)


def test_a_dask_dataframe_trains_by_partition_reproducibly(client, computes):
    X, y = digits()
    frame = pd.DataFrame(X, columns=[f"p{j}" for j in range(64)]).assign(digit=y)
    ddf = dd.from_pandas(frame, npartitions=6)
    a, history = weights_after(ddf, "digit", validation_split=0.2)
    b, _ = weights_after(ddf, "digit", validation_split=0.2)
    assert same(a, b)
    assert max(computes) == 100 and len(computes) == 24  # 6 partitions, 2 epochs, twice
    assert np.isfinite(history["val_loss"]).all()
    c, _ = weights_after(ddf.drop(columns="digit"), ddf["digit"], validation_split=0.2)
    assert same(a, c)
    with pytest.raises(DataError, match=r"target column 'label' is not among the columns"):
        weights_after(ddf, "label")


def test_incremental_trains_the_estimator_by_partial_fit_on_each_block(client):
    from dask_ml.wrappers import Incremental

    X, y = digits()
    Xd, yd = da.from_array(X, chunks=(150, 64)), da.from_array(y, chunks=150)
    estimator = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    wrapped = Incremental(estimator, scoring="accuracy", shuffle_blocks=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: partial_fit is made for this
        for _ in range(5):
            wrapped.partial_fit(Xd, yd, classes=np.arange(10))
    by_hand = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    for _ in range(5):
        for start in range(0, len(X), 150):
            by_hand.partial_fit(
                X[start : start + 150], y[start : start + 150], classes=np.arange(10)
            )
    assert same(wrapped.estimator_.coefs_, by_hand.coefs_)
    assert wrapped.score(Xd, yd) == by_hand.score(X, y) > 0.7  # chance is 0.1
