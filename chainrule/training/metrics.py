"""Metrics on NumPy arrays: accuracy for classification, MAE and R^2 for regression.

Each takes (y_true, y_output) where y_output is what the network outputs: class
probabilities or scores (N, M), one probability per binary output (N, 1), or values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray], float]


def predicted_labels(y_output: np.ndarray) -> np.ndarray:
    """Class indices from outputs: argmax over classes; 0/1 at 0.5 for a single column."""
    y_output = np.asarray(y_output)
    if y_output.ndim == 2 and y_output.shape[1] > 1:
        return y_output.argmax(axis=1)
    return (y_output.reshape(-1) >= 0.5).astype(np.int64)


def true_labels(y_true: np.ndarray) -> np.ndarray:
    y_true = np.asarray(y_true)
    if y_true.ndim == 2 and y_true.shape[1] > 1:
        return y_true.argmax(axis=1)
    return y_true.reshape(-1).astype(np.int64)


def accuracy(y_true: np.ndarray, y_output: np.ndarray) -> float:
    """The fraction of samples whose predicted class is the true class."""
    return float(np.mean(predicted_labels(y_output) == true_labels(y_true)))


def mean_absolute_error(y_true: np.ndarray, y_output: np.ndarray) -> float:
    """(1/(N D)) sum |y - y_hat|."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_output), -1)
    return float(np.mean(np.abs(y_true - np.asarray(y_output, dtype=np.float64))))


def r2_score(y_true: np.ndarray, y_output: np.ndarray) -> float:
    """R^2 = 1 - sum (y - y_hat)^2 / sum (y - mean y)^2, averaged over outputs (1 for a
    perfect fit, 0 for predicting the mean)."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_output), -1)
    y_output = np.asarray(y_output, dtype=np.float64).reshape(y_true.shape)
    residual = ((y_true - y_output) ** 2).sum(axis=0)
    total = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(total > 0, 1 - residual / total, np.where(residual == 0, 1.0, 0.0))
    return float(scores.mean())


def rmse_in_units(scale: float) -> Metric:
    """The root mean squared error of a network trained on the standardised target
    (y - mean) / scale, in the target's own units: scale * sqrt((1/N) sum (y - y_hat)^2)."""

    def rmse(y_true: np.ndarray, y_output: np.ndarray) -> float:
        return float(scale * np.sqrt(mean_squared_error(y_true, y_output)))

    rmse.target_scale = scale  # type: ignore[attr-defined]  # read by running_metrics.py
    return rmse


METRICS: dict[str, Metric] = {
    "accuracy": accuracy,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
    "r2": r2_score,
}


def get_metric(metric: str | Metric) -> tuple[str, Metric]:
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    try:
        return metric, METRICS[metric]
    except KeyError:
        raise ValueError(
            f"unknown metric '{metric}'; known: {', '.join(sorted(METRICS))}"
        ) from None


def confusion_matrix(
    true_index: np.ndarray, predicted_index: np.ndarray, n_classes: int
) -> np.ndarray:
    """counts[i, j] = number of samples of class i predicted as class j."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(true_index), np.asarray(predicted_index)), 1)
    return counts


def precision_recall(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class precision TP / (TP + FP) and recall TP / (TP + FN) from a confusion
    matrix; 0 where a class was never predicted (precision) or never present (recall)."""
    true_positive = np.diag(counts).astype(np.float64)
    predicted = counts.sum(axis=0)
    actual = counts.sum(axis=1)
    precision = np.divide(
        true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0
    )
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    return precision, recall


def mean_squared_error(y_true: np.ndarray, y_output: np.ndarray) -> float:
    """(1/(N D)) sum (y - y_hat)^2."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_output), -1)
    return float(
        np.mean((y_true - np.asarray(y_output, dtype=np.float64).reshape(y_true.shape)) ** 2)
    )
