"""The notes' losses, each a mean over the N samples (a weighted mean with sample_weight):

    MSE = (1/N) sum_i ||y_i - y_hat_i||^2
    BCE = -(1/N) sum_i [y_i log y_hat_i + (1 - y_i) log(1 - y_hat_i)]
    CE  = -(1/N) sum_i sum_k y_ik log y_hat_ik

With several outputs per sample, BCE sums over them (as MSE and CE do), so that for
each output/loss pair of the notes the gradient at the logits is (y_hat - y) / N:
softmax + CE, sigmoid + BCE, identity + MSE with ``half=True`` (without it, 2 (y_hat - y) / N).

The fused forms take logits and are finite at any logit; the probability forms clip
probabilities to [eps, 1 - eps] (eps the dtype's machine epsilon) so log(0) never happens.
``sample_weight`` w gives sum_i w_i l_i / sum_i w_i.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import autodiff as ad
from ..autodiff import Tensor, apply, fused
from ..autodiff.chain import AnyLink, record
from ..autodiff.tensors import constant


class LossInputError(ValueError):
    """A loss got targets or outputs that do not fit each other."""


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _sample_shares(sample_weight: Any, n: int, dtype: np.dtype) -> np.ndarray | float:
    """Each sample's share of the mean: the number 1/N, or the array w_i / sum(w)."""
    if n == 0:
        raise LossInputError("a loss needs at least one sample, got 0")
    if sample_weight is None:
        return 1.0 / n
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if w.shape != (n,):
        raise LossInputError(f"sample_weight has {w.size} entries for {n} samples")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise LossInputError("sample_weight must be finite and non-negative")
    total = w.sum()
    if total <= 0:
        raise LossInputError("sample weights are all zero: no sample counts")
    return (w / total).astype(dtype)


def _rows(output: Tensor, loss: str) -> Tensor:
    if output.ndim == 1:
        return output.reshape(-1, 1)
    if output.ndim != 2:
        raise LossInputError(f"{loss} expects outputs of shape (N, D), got {output.shape}")
    return output


def _targets_like(
    target: Any, shape: tuple[int, ...], dtype: Any, loss: str, hint: str = "", checked=False
) -> np.ndarray:
    """Targets of an output's (N, D) shape, in its dtype; a 1-D target fits a 1-column
    output.  ``checked``: the values are known to be finite (no pass over them)."""
    y = np.asarray(target.data if isinstance(target, Tensor) else target)
    if y.dtype.kind not in "fiub":
        raise LossInputError(f"{loss}: targets must be numbers, got dtype {y.dtype}")
    if y.ndim == 1 and shape[1] == 1:
        y = y.reshape(-1, 1)
    if y.shape != shape:
        raise LossInputError(
            f"{loss} needs targets shaped like the output {shape}, got {y.shape}{hint}"
        )
    # a sum is finite only if every value is: one reduction, no mask, in the usual case
    finite_sum = checked or y.dtype.kind != "f" or np.isfinite(np.add.reduce(y, axis=None))
    if not finite_sum and not np.isfinite(y).all():
        raise LossInputError(f"{loss}: targets contain NaN or inf")
    return y.astype(dtype, copy=False)


_FEW_LABELS = 64
_UNSIGNED = {size: np.dtype(f"u{size}") for size in (1, 2, 4, 8)}


def class_targets(
    target: Any, n_samples: int, n_classes: int, loss: str, checked: bool = False
) -> np.ndarray:
    """Class indices (N,) checked against the number of classes, or probability rows
    (N, M) (one-hot included).  ``checked``: integer indices already checked by the
    caller are taken without a pass over their values."""
    y = target.data if isinstance(target, Tensor) else target
    if (
        y.__class__ is np.ndarray
        and y.ndim == 1
        and y.dtype.kind in "iu"
        and 0 < len(y) == n_samples
    ):
        # the common case, checked in the cheapest way: a few labels by Python's min and
        # max (a NumPy reduction costs more on a small array); many in one reduction,
        # for which an unsigned view makes a negative label huge
        if checked:
            return y
        if n_samples <= _FEW_LABELS:
            labels = y.tolist()
            if min(labels) >= 0 and max(labels) < n_classes:
                return y
        elif y.view(_UNSIGNED[y.dtype.itemsize]).max() < n_classes:
            return y
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1 and n_classes != 1:
        y = y[:, 0]
    if y.ndim == 1:
        if len(y) != n_samples:
            raise LossInputError(f"{loss}: {len(y)} targets for {n_samples} samples")
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
                raise LossInputError(f"{loss}: class labels must be whole numbers")
        elif y.dtype.kind not in "iub":
            raise LossInputError(f"{loss}: class labels must be integers, got dtype {y.dtype}")
        labels = y.astype(np.int64, copy=False)
        if labels.size and labels.min() >= 0 and labels.max() < n_classes:
            return labels  # the common case: two reductions, no mask
        bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
        if bad.size:
            row = int(bad[0])
            raise LossInputError(
                f"{loss}: class label {labels[row]} at row {row} is out of range; the output "
                f"has {n_classes} classes, so labels must be 0..{n_classes - 1}"
            )
        return labels
    if y.shape != (n_samples, n_classes):
        raise LossInputError(
            f"{loss} needs class indices (N,) or probability rows (N, {n_classes}); "
            f"got targets of shape {y.shape} for outputs ({n_samples}, {n_classes})"
        )
    if not np.all(np.isfinite(y)) or np.any(y < 0):
        raise LossInputError(f"{loss}: target probabilities must be finite and >= 0")
    return y.astype(np.float64)


# Fused losses on logits -------------------------------------------------------------------


def cross_entropy(logits: Any, target: Any, sample_weight: Any = None) -> Tensor:
    """Softmax cross-entropy on logits z (N, M): -(1/N) sum_i log softmax(z_i)[y_i], with
    ``target`` class indices (N,) or probability rows (N, M).  Gradient: (softmax(z) - y)/N."""
    z = _tensor(logits)
    return record(z, [cross_entropy_link(z.data.shape, z.data.dtype, target, sample_weight)])


def cross_entropy_link(
    shape: tuple[int, ...],
    dtype: Any,
    target: Any,
    sample_weight: Any = None,
    checked: bool = False,
) -> AnyLink:
    """The softmax_cross_entropy gate on logits of this shape and dtype, with its checked
    targets and each sample's share of the mean: the loss as the last link of a chain of
    gates.  (Only the logits' shape and dtype are needed, so a chain makes this link
    before its forward pass, and bad targets are found before any work is done.)

    ``checked=True`` says that the caller has checked these targets already, with the
    loss's ``check_targets`` (as ``fit`` does, once for all of y): class indices are
    then taken as they are, without a pass over them."""
    if len(shape) != 2:
        raise LossInputError(f"cross_entropy expects logits of shape (N, M), got {shape}")
    y = class_targets(target, shape[0], shape[1], "cross_entropy", checked)
    if y.ndim == 2:
        y = y.astype(dtype)
    shares = _sample_shares(sample_weight, shape[0], dtype)
    return (fused.SOFTMAX_CROSS_ENTROPY, (), {"target": y, "weights": shares})


def binary_cross_entropy_with_logits(logits: Any, target: Any, sample_weight: Any = None) -> Tensor:
    """BCE on logits z (N, D) with 0/1 (or probability) targets, in the stable form
    max(z, 0) - z y + log(1 + e^-|z|).  Gradient: (sigmoid(z) - y)/N."""
    z = _rows(_tensor(logits), "binary_cross_entropy_with_logits")
    link = binary_cross_entropy_with_logits_link(z.shape, z.dtype, target, sample_weight)
    return record(z, [link])


def binary_cross_entropy_with_logits_link(
    shape: tuple[int, ...],
    dtype: Any,
    target: Any,
    sample_weight: Any = None,
    checked: bool = False,
) -> AnyLink:
    """The sigmoid_binary_cross_entropy gate on logits of this shape (N, D) and dtype,
    with its checked targets and each sample's share: the loss as a chain's last link.
    ``checked=True``: as for :func:`cross_entropy_link`, the values are not looked at."""
    name = "binary_cross_entropy_with_logits"
    y = _targets_like(target, shape, dtype, name, _bce_hint(target, shape), checked)
    if not checked:
        _check_unit_interval(y, name)
    shares = _sample_shares(sample_weight, shape[0], dtype)
    return (fused.SIGMOID_BINARY_CROSS_ENTROPY, (), {"target": y, "weights": shares})


def mse(prediction: Any, target: Any, half: bool = False, sample_weight: Any = None) -> Tensor:
    """MSE = (1/N) sum_i ||y_i - y_hat_i||^2 (the notes); ``half=True`` halves it, the
    convention of scikit-learn's MLPRegressor, whose gradient is then (y_hat - y)/N."""
    p = _rows(_tensor(prediction), "mse")
    if isinstance(target, Tensor) and target.requires_grad:
        y = _rows(target, "mse")
        if y.shape != p.shape:
            raise LossInputError(
                f"mse needs targets shaped like the output {p.shape}, got {y.shape}"
            )
        shares = _sample_shares(sample_weight, p.shape[0], p.dtype)
        return apply(fused.SQUARED_ERROR, p, y, weights=shares, scale=0.5 if half else 1.0)
    return record(p, [mse_link(p.shape, p.dtype, target, half, sample_weight)])


def mse_link(
    shape: tuple[int, ...],
    dtype: Any,
    target: Any,
    half: bool = False,
    sample_weight: Any = None,
    checked: bool = False,
) -> AnyLink:
    """The squared_error gate on predictions of this shape (N, D) and dtype, with its
    checked targets (a constant) and each sample's share: the loss as a chain's last link.
    ``checked=True``: as for :func:`cross_entropy_link`, the values are not looked at."""
    y = constant(_targets_like(target, shape, dtype, "mse", checked=checked))
    shares = _sample_shares(sample_weight, shape[0], dtype)
    options = {"weights": shares, "scale": 0.5 if half else 1.0}
    return (fused.SQUARED_ERROR, (y,), options)


# The notes' forms on probabilities --------------------------------------------------------


def binary_cross_entropy(probabilities: Any, target: Any, sample_weight: Any = None) -> Tensor:
    """BCE = -(1/N) sum_i [y log p + (1 - y) log(1 - p)] on probabilities p, clipped to
    [eps, 1 - eps] so that p = 0 or 1 gives a large finite loss, not inf."""
    p = _rows(_tensor(probabilities), "binary_cross_entropy")
    y = _targets_like(target, p.shape, p.dtype, "binary_cross_entropy", _bce_hint(target, p.shape))
    _check_unit_interval(y, "binary_cross_entropy")
    eps = float(np.finfo(p.dtype).eps)
    clipped = ad.clip(p, eps, 1.0 - eps)
    per_sample = -(y * ad.log(clipped) + (1.0 - y) * ad.log(1.0 - clipped)).sum(axis=1)
    return _weighted_mean(per_sample, sample_weight)


def nll(log_probabilities: Any, target: Any, sample_weight: Any = None) -> Tensor:
    """Negative log-likelihood: -(1/N) sum_i sum_k y_ik log_p_ik on log-probabilities
    (e.g. the output of log_softmax), targets as class indices or probability rows."""
    log_p = _tensor(log_probabilities)
    if log_p.ndim != 2:
        raise LossInputError(f"nll expects log-probabilities of shape (N, M), got {log_p.shape}")
    y = class_targets(target, log_p.shape[0], log_p.shape[1], "nll")
    if y.ndim == 1:
        per_sample = -log_p[np.arange(len(y)), y]
    else:
        per_sample = -(log_p * y.astype(log_p.dtype)).sum(axis=1)
    return _weighted_mean(per_sample, sample_weight)


def cross_entropy_on_probabilities(
    probabilities: Any, target: Any, sample_weight: Any = None
) -> Tensor:
    """CE as the notes write it, on softmax outputs p: -(1/N) sum_i sum_k y_ik log p_ik,
    with p clipped below at eps so log(0) never happens."""
    p = _tensor(probabilities)
    if p.ndim != 2:
        raise LossInputError(f"cross_entropy expects probabilities of shape (N, M), got {p.shape}")
    eps = float(np.finfo(p.dtype).eps)
    return nll(ad.log(ad.clip(p, eps, None)), target, sample_weight)


def check_binary_targets(target: Any, n_outputs: int, dtype: Any, loss: str) -> None:
    """Raise LossInputError unless ``target`` fits BCE on an (N, n_outputs) output: the
    same checks the loss makes, without computing it (nothing of size N x D allocated)."""
    shape = (len(target), n_outputs)
    y = _targets_like(target, shape, dtype, loss, _bce_hint(target, shape))
    _check_unit_interval(y, loss)


def check_value_targets(target: Any, n_outputs: int, dtype: Any, loss: str) -> None:
    """Raise LossInputError unless ``target`` fits a regression loss on (N, n_outputs)."""
    _targets_like(target, (len(target), n_outputs), dtype, loss)


def _weighted_mean(per_sample: Tensor, sample_weight: Any) -> Tensor:
    shares = _sample_shares(sample_weight, per_sample.shape[0], per_sample.dtype)
    if isinstance(shares, float):
        return per_sample.mean()
    return (per_sample * shares).sum()


def _check_unit_interval(y: np.ndarray, loss: str) -> None:
    if y.size and not (y.min() >= 0 and y.max() <= 1):
        raise LossInputError(f"{loss}: targets must lie in [0, 1] (0/1 labels or probabilities)")


def _bce_hint(target: Any, shape: tuple[int, ...]) -> str:
    y = np.asarray(target.data if isinstance(target, Tensor) else target)
    if y.ndim == 1 and shape[1] > 1:
        return (
            f". Binary cross-entropy scores each of the {shape[1]} output columns "
            "against its own 0/1 target; for one label among several classes use "
            "cross_entropy with a softmax output"
        )
    return ""
