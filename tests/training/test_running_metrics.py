"""A streamed epoch's metrics are running sums: the figures of the concatenated outputs,
in memory that does not grow with the epoch's rows."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data.streaming import StreamingSource
from chainrule.training.metrics import accuracy, get_metric, rmse_in_units
from chainrule.training.running_metrics import RunningMetrics


def first_quartile_error(y, outputs):
    """Not a mean over samples: the running figure is the rows-weighted batch mean."""
    return float(np.quantile(np.abs(np.asarray(y).reshape(-1) - np.asarray(outputs)[:, 0]), 0.25))


def batches(rng, sizes, width):
    for n in sizes:
        yield rng.normal(size=(n, 1)) * 3 + 5, rng.normal(size=(n, width))


@pytest.mark.parametrize("metric", ["mae", "r2", rmse_in_units(2.5)], ids=["mae", "r2", "rmse"])
def test_regression_metrics_equal_those_of_the_concatenated_outputs(metric):
    rng = np.random.default_rng(0)
    name, function = get_metric(metric)
    running = RunningMetrics([(name, function)], lambda p: p)
    ys, outs = [], []
    for y, out in batches(rng, [7, 256, 1, 100], 1):
        running.add(y, out)
        ys.append(y)
        outs.append(out)
    expected = function(np.concatenate(ys), np.concatenate(outs))
    assert running.logs()[name] == pytest.approx(expected, rel=1e-12)
    assert running.logs() == {}  # the sums start again for the next epoch


def test_accuracy_counts_every_batch():
    rng = np.random.default_rng(1)
    running = RunningMetrics([("accuracy", accuracy)], lambda p: p)
    ys, outs = [], []
    for n in [5, 64, 3]:
        y, out = rng.integers(0, 3, n), rng.normal(size=(n, 3))
        running.add(y, out)
        ys.append(y)
        outs.append(out)
    assert running.logs()["accuracy"] == accuracy(np.concatenate(ys), np.concatenate(outs))


def test_another_metric_is_its_batches_mean_weighted_by_rows():
    rng = np.random.default_rng(2)
    running = RunningMetrics([("q", first_quartile_error)], lambda p: p)
    parts = list(batches(rng, [10, 30], 1))
    for y, out in parts:
        running.add(y, out)
    expected = sum(first_quartile_error(y, out) * len(y) for y, out in parts) / 40
    assert running.logs()["q"] == pytest.approx(expected, rel=1e-12)


class GeneratedBlocks:
    """Blocks made on demand from their index: the data never sits in memory whole."""

    def __init__(self, n_blocks, block_rows=8192, d=8):
        self.n_blocks, self.block_rows, self.d = n_blocks, block_rows, d
        self.feature_names = [f"f{j}" for j in range(d)]

    def read_block(self, i):
        rng = np.random.default_rng(i)
        X = rng.normal(size=(self.block_rows, self.d))
        rows = np.arange(i * self.block_rows, (i + 1) * self.block_rows, dtype=np.int64)
        return X, (X[:, 0] > 0).astype(np.int64), rows


def peak_bytes_of_fit(n_blocks, metrics):
    model = nn.MLP([8, 4, 2], "relu", "softmax", seed=0)
    source = StreamingSource(
        GeneratedBlocks(n_blocks), 512, buffer_rows=8192, seed=0, validation_split=0.5
    )
    tracemalloc.start()
    try:
        history = cr.fit(model, "cross_entropy", optim.Adam(model.parameters()), source, None,
                         epochs=1, batch_size=512, metrics=metrics, verbose=0)  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, history


def test_a_streamed_epoch_with_metrics_does_not_keep_its_outputs():
    """Outputs of 2 x 32 bytes a row were kept for the training and validation metrics:
    at 64 blocks of 8192 rows, 16 MB more than at 8 blocks."""
    small, _ = peak_bytes_of_fit(8, ["accuracy"])
    large, history = peak_bytes_of_fit(64, ["accuracy"])
    assert 0.5 < history["accuracy"][-1] <= 1 and 0.5 < history["val_accuracy"][-1] <= 1
    assert large < small + 2e6
