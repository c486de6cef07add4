"""Metrics over an epoch's batches in bounded memory, for sources that stream their rows.

In memory, ``fit`` keeps every batch's outputs and takes each metric over all of them at
the epoch's end.  A streamed epoch may hold more rows than memory, so each batch instead
adds to a few running sums, and the figure at the end is the one the concatenated outputs
would give (up to rounding):

* accuracy: (correct predictions) / N;
* MAE: sum |y - y_hat| / (N D);
* RMSE in the target's units (``rmse_in_units``): scale * sqrt(sum (y - y_hat)^2 / (N D));
* R^2: per output, 1 - SSE / SST with SSE = sum (y - y_hat)^2 and SST = sum (y - mean y)^2,
  SST merged batch by batch by Chan et al.'s rule (count, mean, sum of squared deviations:
  with delta = m_b - m_a, M2 = M2_a + M2_b + delta^2 n_a n_b / n), averaged over outputs;
* any other metric function: the mean of its per-batch figures weighted by the batches'
  rows (exact for a mean over samples, an approximation otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .metrics import (
    Metric,
    accuracy,
    mean_absolute_error,
    predicted_labels,
    r2_score,
    true_labels,
)


def _as_columns(y: np.ndarray, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).reshape(len(outputs), -1)
    return y, np.asarray(outputs, dtype=np.float64).reshape(y.shape)


class RunningMetric:
    """One metric's running sums over batches: ``add(y, outputs)`` per batch, ``value()``
    at the end."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self.scale = getattr(metric, "target_scale", None)  # rmse_in_units marks itself
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.total = 0.0
        self.elements = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None
        self.sse: np.ndarray | None = None

    def add(self, y: np.ndarray, outputs: np.ndarray) -> None:
        n = len(outputs)
        if n == 0:
            return
        if self.metric is accuracy:
            self.total += float(np.sum(predicted_labels(outputs) == true_labels(y)))
        elif self.metric is mean_absolute_error or self.scale is not None:
            y, outputs = _as_columns(y, outputs)
            error = y - outputs
            self.total += float(np.abs(error).sum() if self.scale is None else (error**2).sum())
            self.elements += error.size
        elif self.metric is r2_score:
            self._add_r2(*_as_columns(y, outputs))
        else:
            self.total += float(self.metric(y, outputs)) * n
        self.count += n

    def _add_r2(self, y: np.ndarray, outputs: np.ndarray) -> None:
        n_b = len(y)
        mean_b = y.mean(axis=0)
        m2_b = ((y - mean_b) ** 2).sum(axis=0)
        sse_b = ((y - outputs) ** 2).sum(axis=0)
        if self.mean is None or self.m2 is None or self.sse is None:
            self.mean, self.m2, self.sse = mean_b, m2_b, sse_b
            return
        total = self.count + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / total)
        self.m2 = self.m2 + m2_b + delta**2 * (self.count * n_b / total)
        self.sse = self.sse + sse_b

    def value(self) -> float:
        if self.metric is accuracy:
            return self.total / self.count
        if self.metric is mean_absolute_error:
            return self.total / self.elements
        if self.scale is not None:
            return float(self.scale * np.sqrt(self.total / self.elements))
        if self.metric is r2_score:
            residual, total = self.sse, self.m2
            with np.errstate(divide="ignore", invalid="ignore"):
                scores = np.where(
                    total > 0, 1 - residual / total, np.where(residual == 0, 1.0, 0.0)
                )
            return float(scores.mean())
        return self.total / self.count


class RunningMetrics:
    """Every metric of ``fit``'s ``metrics`` as running sums: ``add`` a batch's targets and
    its predictions as the loss took them (``to_outputs`` makes the network's outputs of
    them), ``logs()`` at the epoch's end (and the sums start again)."""

    def __init__(
        self,
        named_metrics: Sequence[tuple[str, Metric]],
        to_outputs: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.to_outputs = to_outputs
        self.metrics = [(name, RunningMetric(metric)) for name, metric in named_metrics]

    def add(self, y: np.ndarray, predictions: np.ndarray) -> None:
        outputs = self.to_outputs(predictions)
        for _, metric in self.metrics:
            metric.add(y, outputs)

    def logs(self) -> dict[str, float]:
        if not self.metrics or self.metrics[0][1].count == 0:
            return {}
        figures = {name: metric.value() for name, metric in self.metrics}
        for _, metric in self.metrics:
            metric.reset()
        return figures


class CountedAccuracy:
    """Accuracy over an epoch's kept batch outputs, counted group by group as they come
    (``fit`` in memory when accuracy is its only metric).

    After each batch, :meth:`add` looks at the lists of kept predictions and targets;
    once they hold ``group_rows`` rows they are counted (correct predictions, rows) and
    emptied.  :meth:`value` counts the rest and gives correct / N: the very number
    ``accuracy`` gives on all the outputs at once (a count is exact in any grouping),
    while memory holds a group of outputs, not the epoch's (with their probabilities
    and labels at the end, most of a data set's size again)."""

    def __init__(
        self, to_outputs: Callable[[np.ndarray], np.ndarray], group_rows: int = 1 << 13
    ) -> None:
        self.to_outputs, self.group_rows = to_outputs, group_rows
        self.pending = self.correct = self.rows = 0

    def add(self, predictions: list[np.ndarray], targets: list[np.ndarray]) -> None:
        self.pending += len(targets[-1])
        if self.pending >= self.group_rows:
            self._count(predictions, targets)

    def _count(self, predictions: list[np.ndarray], targets: list[np.ndarray]) -> None:
        if predictions:
            outputs = self.to_outputs(np.concatenate(predictions))
            y = np.concatenate(targets)
            self.correct += int(np.count_nonzero(predicted_labels(outputs) == true_labels(y)))
            self.rows += len(y)
        predictions.clear()
        targets.clear()
        self.pending = 0

    def value(self, predictions: list[np.ndarray], targets: list[np.ndarray]) -> float | None:
        """The accuracy of everything added since the last value (the lists emptied), or
        None if that is nothing."""
        self._count(predictions, targets)
        correct, rows = self.correct, self.rows
        self.correct = self.rows = 0
        return correct / rows if rows else None
