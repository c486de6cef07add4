"""One training run, as every rank of an MPI job runs it (and as a test runs it in one
process to compare): ``python -m tests.mpi.fit_job CONFIG.json OUT.npz``.

The config names the data (made from a seed), the network, the optimizer and fit's
arguments; rank 0 writes the trained weights and the history to OUT (NumPy's npz,
arrays only) and every rank writes a line to stdout saying what it trained on."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.training import EarlyStopping


def make_data(config: dict[str, Any]) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(config["data_seed"])
    n, d = config["rows"], config["features"]
    X = rng.normal(size=(n, d))
    if config["task"] == "classify":
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    else:
        y = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    w = rng.uniform(0.2, 3.0, size=n) if config.get("weighted") else None
    return X, y, w


def make_optimizer(config: dict[str, Any], params: list) -> cr.optim.Optimizer:
    name = config["optimizer"]
    if name == "sgd":
        return cr.optim.SGD(params, lr=0.05)
    if name == "momentum":
        return cr.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True)
    return cr.optim.Adam(params, lr=0.01)


def train(config: dict[str, Any], comm: Any = None) -> tuple[cr.nn.MLP, cr.training.History]:
    X, y, w = make_data(config)
    shard = comm is not None
    if shard:
        communicator = cr.distributed.resolve(comm)
        rank, size = communicator.rank, communicator.size
        if config.get("poison_rank") == rank:
            X[5, 2] = np.nan
        if "poison_row" in config:  # in every rank's copy of the whole data
            X[config["poison_row"], 2] = np.nan
        if config.get("own_shards"):  # contiguous blocks of unequal sizes, in rank order
            bounds = np.linspace(0, len(X), size + 1).astype(int)
            bounds[1:-1] += np.arange(1, size) * 7
            rows = slice(bounds[rank], bounds[rank + 1])
            X, y, w = X[rows], y[rows], None if w is None else w[rows]
            shard = False
    classify = config["task"] == "classify"
    width = 3 if classify else 1
    model = cr.nn.MLP(
        [X.shape[1], 16, 8, width],
        "tanh",
        "softmax" if classify else "identity",
        seed=config["model_seed"],
        dtype=np.dtype(config["dtype"]),
    )
    if comm is not None and config.get("unequal_start"):
        # each rank starts elsewhere: the broadcast must give them rank 0's weights
        for p in model.parameters():
            p.data += rank
    callbacks = []
    if config.get("early_stopping"):
        callbacks.append(EarlyStopping(patience=1, min_delta=1e-3, restore_best=True))
    history = cr.fit(
        model,
        "cross_entropy" if classify else "mse",
        make_optimizer(config, model.parameters()),
        X,
        y,
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        validation_split=config.get("validation_split", 0.0),
        metrics=["accuracy"] if classify else ["mae"],
        callbacks=callbacks,
        verbose=0,
        seed=config["seed"],
        sample_weight=w,
        comm=comm,
        shard=shard,
    )
    return model, history


def results(model: cr.nn.MLP, history: cr.training.History) -> dict[str, np.ndarray]:
    arrays = {f"param_{i}": p.data for i, p in enumerate(model.parameters())}
    for key, values in history.history.items():
        arrays[f"history_{key}"] = np.asarray(values, dtype=np.float64)
    arrays["epochs"] = np.asarray(history.epochs)
    arrays["stopped_early"] = np.asarray(history.stopped_early)
    return arrays


def main(argv: list[str]) -> None:
    with open(argv[0], encoding="utf-8") as file:
        config = json.load(file)
    model, history = train(config, comm="auto")
    rank = cr.distributed.resolve("auto")
    print(f"rank {rank.rank} of {rank.size} trained", flush=True)
    if rank.rank == 0:
        np.savez(argv[1], **results(model, history))


if __name__ == "__main__":
    main(sys.argv[1:])
