"""A model's scores on labelled data, as plain data: for classification the accuracy, the
confusion matrix, each class's precision, recall, F1 and support, their macro and
weighted averages and, given the predicted probabilities, the log-loss and the ROC-AUC;
for regression the mean squared error, its root, the mean absolute error and R^2, in the
target's own units.

The figures are scikit-learn's (``precision_recall_fscore_support`` with
``zero_division=0``, ``log_loss``, ``roc_auc_score`` one-vs-rest macro), computed with
NumPy: precision, recall and F1 are 0 where their denominator is 0 (a class never
predicted, or absent from the data); the ROC-AUC is None, with the reason, where it is
not defined (a class absent from the data).

``to_dict()`` gives the document ``chainrule evaluate --json`` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .probability_scores import log_loss, roc_auc
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
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
        }


@dataclass(frozen=True)
class AverageScores:
    """Precision, recall and F1 averaged over the classes: ``macro`` is the plain mean over
    every class of the model, ``weighted`` the mean weighted by each class's support."""

    precision: float
    recall: float
    f1: float

    def to_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}


def _averages(scores: list[ClassScores]) -> dict[str, AverageScores]:
    table = np.array([[s.precision, s.recall, s.f1] for s in scores])
    support = np.array([s.support for s in scores], dtype=np.float64)
    weights = support / support.sum()
    return {
        "macro": AverageScores(*map(float, table.mean(axis=0))),
        "weighted": AverageScores(*map(float, weights @ table)),
    }


@dataclass(frozen=True, eq=False)
class ClassificationReport:
    """accuracy = trace(C) / samples; ``confusion_matrix[i, j]`` counts the samples of
    ``classes[i]`` predicted as ``classes[j]``; ``per_class`` is keyed by class label;
    ``averages`` holds the "macro" and "weighted" averages.  ``log_loss`` and
    ``roc_auc`` need the probabilities (None without them); ``roc_auc`` is None, with
    ``roc_auc_undefined`` saying why, where it is not defined."""

    task: ClassVar[str] = "classify"
    samples: int
    classes: list[Any]
    accuracy: float
    confusion_matrix: np.ndarray
    per_class: dict[Any, ClassScores]
    averages: dict[str, AverageScores] = field(default_factory=dict)
    log_loss: float | None = None
    roc_auc: float | None = None
    roc_auc_undefined: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "task": self.task,
            "accuracy": self.accuracy,
            "classes": list(self.classes),
            "confusion_matrix": self.confusion_matrix.tolist(),
            "per_class": {str(c): scores.to_dict() for c, scores in self.per_class.items()},
            "averages": {name: scores.to_dict() for name, scores in self.averages.items()},
            "log_loss": self.log_loss,
            "roc_auc": self.roc_auc,
            "roc_auc_undefined": self.roc_auc_undefined,
        }


@dataclass(frozen=True)
class RegressionReport:
    """mse = (1/N) sum (y - y_hat)^2, rmse = sqrt(mse), mae = (1/N) sum |y - y_hat|,
    r2 = 1 - sum (y - y_hat)^2 / sum (y - mean y)^2; all but r2 in the target's units
    (squared for mse)."""

    task: ClassVar[str] = "regress"
    samples: int
    mse: float
    mae: float
    r2: float

    @property
    def rmse(self) -> float:
        return float(np.sqrt(self.mse))

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "task": self.task,
            "mse": self.mse,
            "rmse": self.rmse,
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
    classes: Sequence[Any],
    true_index: np.ndarray,
    predicted_index: np.ndarray,
    probabilities: np.ndarray | None = None,
) -> ClassificationReport:
    """Scores from each sample's true and predicted class, given as indices into
    ``classes``, and, for the log-loss and the ROC-AUC, the predicted probabilities
    (samples, classes) in the order of ``classes``."""
    truth, predicted = np.asarray(true_index), np.asarray(predicted_index)
    _check_pair(truth, predicted)
    counts = confusion_matrix(truth, predicted, len(classes))
    precision, recall = precision_recall(counts)
    support = counts.sum(axis=1)
    per_class = {
        c: ClassScores(float(p), float(r), int(s))
        for c, p, r, s in zip(classes, precision, recall, support, strict=True)
    }
    extra: dict[str, Any] = {}
    if probabilities is not None:
        p = np.asarray(probabilities, dtype=np.float64)
        if p.shape != (len(truth), len(classes)):
            raise ValueError(
                f"expected probabilities of shape {(len(truth), len(classes))}, got {p.shape}"
            )
        auc = roc_auc(truth, p, list(classes))
        extra = {
            "log_loss": log_loss(truth, p),
            "roc_auc": auc.value,
            "roc_auc_undefined": auc.undefined_because,
        }
    return ClassificationReport(
        samples=len(truth),
        classes=list(classes),
        accuracy=float(np.mean(truth == predicted)),
        confusion_matrix=counts,
        per_class=per_class,
        averages=_averages(list(per_class.values())),
        **extra,
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
