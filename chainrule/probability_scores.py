"""Scores of predicted class probabilities: the log-loss and the ROC-AUC, computed with
NumPy to give the numbers scikit-learn's ``log_loss`` and ``roc_auc_score`` give.

Both take each sample's true class as an index into the columns of ``probabilities``
(N, K), one column per class, each row summing to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def log_loss(true_index: np.ndarray, probabilities: np.ndarray) -> float:
    """-(1/N) sum_n log p[n, y_n], with each p clipped to [eps, 1 - eps] (eps the float64
    machine epsilon, as scikit-learn clips), so a probability of exactly 0 for the true
    class costs -log(eps) = 36.04 instead of infinity."""
    p = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(true_index)
    eps = np.finfo(np.float64).eps
    chosen = np.clip(p[np.arange(len(truth)), truth], eps, 1 - eps)
    return float(-np.mean(np.log(chosen)))


def binary_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """The area under the ROC curve of ``scores`` for the boolean labels ``positive``:
    the probability that a random positive scores above a random negative, ties counting
    one half.  By the Mann-Whitney identity, with r_i the rank of score i among all
    (ties given their average rank), AUC = (sum_{i positive} r_i - P (P + 1) / 2) / (P Q)
    for P positives and Q negatives; this is the trapezoidal area scikit-learn computes."""
    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_positive = int(positive.sum())
    n_negative = len(positive) - n_positive
    if n_positive == 0 or n_negative == 0:
        raise ValueError("the ROC-AUC needs both positive and negative samples")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    # average rank (1-based) of each run of equal scores
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    run_rank = (starts + 1 + ends) / 2.0
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat(run_rank, ends - starts)
    u = ranks[positive].sum() - n_positive * (n_positive + 1) / 2.0
    return float(u / (n_positive * n_negative))


@dataclass(frozen=True)
class RocAuc:
    """The ROC-AUC, or None with the reason it is not defined for these samples."""

    value: float | None
    undefined_because: str | None = None


def roc_auc(true_index: np.ndarray, probabilities: np.ndarray, classes: list) -> RocAuc:
    """Two classes: the AUC of the second class's probability (scikit-learn's positive
    class is the larger label, here the second of the sorted ``classes``).  More classes:
    one-vs-rest, the unweighted mean over classes c of the AUC of p[:, c] for "class c"
    against "any other" (scikit-learn's ``multi_class="ovr", average="macro"``).  Not
    defined when a class does not occur among the samples (scikit-learn answers nan)."""
    truth = np.asarray(true_index)
    p = np.asarray(probabilities, dtype=np.float64)
    counts = np.bincount(truth, minlength=len(classes))
    absent = [str(c) for c, n in zip(classes, counts, strict=True) if n == 0]
    if absent:
        return RocAuc(
            None,
            f"class {', '.join(absent)} does not occur in the data; the ROC-AUC needs "
            "samples of every class",
        )
    if len(classes) == 2:
        return RocAuc(binary_auc(truth == 1, p[:, 1]))
    return RocAuc(float(np.mean([binary_auc(truth == c, p[:, c]) for c in range(len(classes))])))
