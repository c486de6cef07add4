"""A model's scores on labelled data, as plain data: for classification the accuracy, the
confusion matrix and each class's precision, recall, F1 and support; for regression the
mean squared error, the mean absolute error and R^2.

``to_dict()`` gives the document ``chainrule evaluate --json`` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .training.metrics import (
    confusion_matrix,
    mean_absolute_error,
    mean_squared_error,
    precision_recall,
    r2_score,
)


@dataclass(frozen=True)
class ClassScores:
    """One class c's figures from the confusion matrix C (rows true, columns predicted):
    precision C[c, c] / sum_i C[i, c], recall C[c, c] / sum_j C[c, j] (each 0 when its
    denominator is), and support sum_j C[c, j], the number of samples of class c."""

    precision: float
    recall: float
    support: int

    @property
    def f1(self) -> float:
        """The harmonic mean of precision and recall, 2 P R / (P + R); 0 when both are 0."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall, "support": self.support}


@dataclass(frozen=True, eq=False)
class ClassificationReport:
    """accuracy = trace(C) / samples; ``confusion_matrix[i, j]`` counts the samples of
    ``classes[i]`` predicted as ``classes[j]``; ``per_class`` is keyed by class label."""

    task: ClassVar[str] = "classify"
    samples: int
    classes: list[Any]
    accuracy: float
    confusion_matrix: np.ndarray
    per_class: dict[Any, ClassScores]

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "task": self.task,
            "accuracy": self.accuracy,
            "classes": list(self.classes),
            "confusion_matrix": self.confusion_matrix.tolist(),
            "per_class": {str(c): scores.to_dict() for c, scores in self.per_class.items()},
        }


@dataclass(frozen=True)
class RegressionReport:
    """mse = (1/N) sum (y - y_hat)^2, mae = (1/N) sum |y - y_hat|,
    r2 = 1 - sum (y - y_hat)^2 / sum (y - mean y)^2."""

    task: ClassVar[str] = "regress"
    samples: int
    mse: float
    mae: float
    r2: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "task": self.task,
            "mse": self.mse,
            "mae": self.mae,
            "r2": self.r2,
        }


EvaluationReport = ClassificationReport | RegressionReport


def _check_pair(truth: np.ndarray, predicted: np.ndarray) -> None:
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true values but {len(predicted)} predictions")
    if len(truth) == 0:
        raise ValueError("nothing to evaluate: no samples")


def classification_report(
    classes: Sequence[Any], true_index: np.ndarray, predicted_index: np.ndarray
) -> ClassificationReport:
    """Scores from each sample's true and predicted class, given as indices into
    ``classes``."""
    truth, predicted = np.asarray(true_index), np.asarray(predicted_index)
    _check_pair(truth, predicted)
    counts = confusion_matrix(truth, predicted, len(classes))
    precision, recall = precision_recall(counts)
    support = counts.sum(axis=1)
    return ClassificationReport(
        samples=len(truth),
        classes=list(classes),
        accuracy=float(np.mean(truth == predicted)),
        confusion_matrix=counts,
        per_class={
            c: ClassScores(float(p), float(r), int(s))
            for c, p, r, s in zip(classes, precision, recall, support, strict=True)
        },
    )


def regression_report(y_true: np.ndarray, y_predicted: np.ndarray) -> RegressionReport:
    """Scores of one predicted value per sample against the true values."""
    truth = np.asarray(y_true, dtype=np.float64).reshape(-1)
    predicted = np.asarray(y_predicted, dtype=np.float64).reshape(-1, 1)
    _check_pair(truth, predicted)
    return RegressionReport(
        samples=len(truth),
        mse=mean_squared_error(truth, predicted),
        mae=mean_absolute_error(truth, predicted),
        r2=r2_score(truth, predicted),
    )
