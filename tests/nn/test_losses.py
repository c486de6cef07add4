"""The losses against the notes' formulas written in NumPy, at ordinary and extreme
inputs, with sample weights, and their refusals."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import LossInputError
from chainrule.nn import functional as F

rng = np.random.default_rng(0)
N, M = 8, 3


def notes_ce(p, y_onehot):
    return -np.mean(np.sum(y_onehot * np.log(p), axis=1))


def notes_bce(p, y):
    return -np.mean(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p), axis=1))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_mse_is_the_notes_formula_and_half_is_half():
    y_hat, y = rng.normal(size=(N, 2)), rng.normal(size=(N, 2))
    expected = np.mean(np.sum((y - y_hat) ** 2, axis=1))
    assert F.mse(y_hat, y).item() == pytest.approx(expected, rel=1e-12)
    assert F.mse(y_hat, y, half=True).item() == pytest.approx(expected / 2, rel=1e-12)
    assert F.mse(y_hat[:, 0], y[:, 0]).item() == pytest.approx(
        np.mean((y - y_hat)[:, 0] ** 2), rel=1e-12
    )


def test_cross_entropy_with_indices_one_hot_and_probabilities():
    z = rng.normal(size=(N, M))
    labels = rng.integers(0, M, size=N)
    onehot = np.eye(M)[labels]
    expected = notes_ce(softmax(z), onehot)
    assert F.cross_entropy(z, labels).item() == pytest.approx(expected, rel=1e-12)
    assert F.cross_entropy(z, onehot).item() == pytest.approx(expected, rel=1e-12)
    assert F.cross_entropy_on_probabilities(softmax(z), labels).item() == pytest.approx(
        expected, rel=1e-12
    )
    assert F.nll(np.log(softmax(z)), labels).item() == pytest.approx(expected, rel=1e-12)
    soft = softmax(rng.normal(size=(N, M)))
    assert F.cross_entropy(z, soft).item() == pytest.approx(notes_ce(softmax(z), soft), rel=1e-12)


def test_soft_target_cross_entropy_gradient_against_central_differences():
    soft = softmax(rng.normal(size=(N, M)))
    report = cr.gradcheck(lambda z: F.cross_entropy(z, soft), rng.normal(size=(N, M)))
    assert report.passed, str(report)


def test_bce_forms_agree_with_the_notes_formula():
    z = rng.normal(size=(N, 2))
    y = rng.integers(0, 2, size=(N, 2)).astype(float)
    p = 1 / (1 + np.exp(-z))
    expected = notes_bce(p, y)
    assert F.binary_cross_entropy_with_logits(z, y).item() == pytest.approx(expected, rel=1e-12)
    assert F.binary_cross_entropy(p, y).item() == pytest.approx(expected, rel=1e-12)
    # a 1-D target fits a one-column output
    assert F.binary_cross_entropy_with_logits(z[:, :1], y[:, 0]).item() == pytest.approx(
        notes_bce(p[:, :1], y[:, :1]), rel=1e-12
    )


def test_sample_weight_gives_the_weighted_mean():
    z = rng.normal(size=(N, M))
    labels = rng.integers(0, M, size=N)
    w = rng.uniform(0.1, 3.0, size=N)
    per_sample = -np.log(softmax(z)[np.arange(N), labels])
    expected = np.sum(w * per_sample) / np.sum(w)
    assert F.cross_entropy(z, labels, sample_weight=w).item() == pytest.approx(expected, rel=1e-12)
    integer_weights = np.array([2, 1, 1, 1, 1, 1, 1, 1])
    duplicated = F.cross_entropy(np.vstack([z[:1], z]), np.concatenate([labels[:1], labels])).item()
    assert F.cross_entropy(z, labels, sample_weight=integer_weights).item() == pytest.approx(
        duplicated
    )
    y_hat, y = rng.normal(size=(N, 1)), rng.normal(size=(N, 1))
    assert F.mse(y_hat, y, sample_weight=w).item() == pytest.approx(
        np.sum(w * (y - y_hat)[:, 0] ** 2) / np.sum(w), rel=1e-12
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_nan_or_inf_at_logits_of_plus_minus_1000(dtype):
    z = cr.tensor(
        np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]], dtype=dtype),
        requires_grad=True,
    )
    ce = F.cross_entropy(z, np.array([1, 0]))
    ce.backward()
    assert np.isfinite(ce.item()) and np.all(np.isfinite(z.grad))
    # row 0: logsumexp 1000 minus z_1 = -1000; row 1: 1000 + log 2 minus z_0 = -1000
    assert ce.item() == pytest.approx((2000.0 + 2000.0 + np.log(2.0)) / 2, rel=1e-5)
    zb = cr.tensor(np.array([[1000.0], [-1000.0], [1000.0]], dtype=dtype), requires_grad=True)
    bce = F.binary_cross_entropy_with_logits(zb, np.array([1.0, 0.0, 0.0]))
    bce.backward()
    assert bce.item() == pytest.approx(1000.0 / 3, rel=1e-5)
    assert np.all(np.isfinite(zb.grad))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_probabilities_of_exactly_0_and_1_give_finite_losses_and_gradients(dtype):
    p = cr.tensor(np.array([[0.0], [1.0], [1.0]], dtype=dtype), requires_grad=True)
    bce = F.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0]))
    bce.backward()
    assert np.isfinite(bce.item()) and bce.item() > 10
    assert np.all(np.isfinite(p.grad))
    q = cr.tensor(np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype), requires_grad=True)
    ce = F.cross_entropy_on_probabilities(q, np.array([0, 0]))
    ce.backward()
    assert np.isfinite(ce.item()) and np.all(np.isfinite(q.grad))


def test_class_labels_out_of_range_are_named():
    with pytest.raises(LossInputError, match="class label 3 at row 2 is out of range.*0..2"):
        F.cross_entropy(np.zeros((4, 3)), np.array([0, 1, 3, 2]))
    with pytest.raises(LossInputError, match="class label -1 at row 0"):
        F.cross_entropy(np.zeros((2, 3)), np.array([-1, 0]))
    narrow = [
        (np.array([0, -2], dtype=np.int32), "class label -2 at row 1"),
        (np.array([1, 0, 5, 0], dtype=np.int8)[::2], "class label 5 at row 1"),  # strided
    ]
    for labels, message in narrow:
        with pytest.raises(LossInputError, match=message):
            F.cross_entropy(np.zeros((2, 2)), labels)
    assert F.cross_entropy(np.zeros((2, 3)), np.array([2, 0], dtype=np.uint8)).item() > 0
    with pytest.raises(LossInputError, match="whole numbers"):
        F.cross_entropy(np.zeros((2, 3)), np.array([0.5, 1.0]))


def test_bce_on_a_three_wide_output_with_class_labels_says_what_is_wrong():
    with pytest.raises(LossInputError, match=r"shaped like the output \(4, 3\).*use cross_entropy"):
        F.binary_cross_entropy_with_logits(np.zeros((4, 3)), np.array([0, 1, 2, 1]))
    with pytest.raises(LossInputError, match=r"\[0, 1\]"):
        F.binary_cross_entropy_with_logits(np.zeros((2, 1)), np.array([0.0, 2.0]))


def test_wrong_lengths_and_weights_are_refused():
    with pytest.raises(LossInputError, match="3 targets for 4 samples"):
        F.cross_entropy(np.zeros((4, 2)), np.array([0, 1, 1]))
    with pytest.raises(LossInputError, match=r"shaped like the output \(4, 1\), got \(3, 1\)"):
        F.mse(np.zeros((4, 1)), np.zeros(3))
    with pytest.raises(LossInputError, match="all zero"):
        F.mse(np.zeros((2, 1)), np.zeros(2), sample_weight=[0, 0])
    with pytest.raises(LossInputError, match="non-negative"):
        F.mse(np.zeros((2, 1)), np.zeros(2), sample_weight=[1, -1])


@pytest.mark.parametrize("n", [1, 5, 64, 65, 500])
@pytest.mark.parametrize("dtype", [np.int64, np.int16, np.uint32])
def test_labels_are_checked_at_every_batch_size(n, dtype):
    """Few labels are checked in Python, many by one NumPy reduction: both must catch a
    bad label at either end, at any row, and let good ones through."""
    rng = np.random.default_rng(n)
    labels = rng.integers(0, 3, size=n).astype(dtype)
    loss = F.cross_entropy(np.zeros((n, 3)), labels)
    assert loss.item() == pytest.approx(np.log(3))
    row = n // 2
    bad_values = [3, 200] + ([-1] if np.dtype(dtype).kind == "i" else [])
    for bad in bad_values:
        broken = labels.copy()
        broken[row] = bad
        with pytest.raises(LossInputError, match=f"class label {bad} at row {row} "):
            F.cross_entropy(np.zeros((n, 3)), broken)
