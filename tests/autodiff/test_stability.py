"""No NaN or inf from the softmax family, sigmoid and softplus at extreme inputs, and the
right values there."""

import numpy as np
import pytest

import chainrule as cr

EXTREMES = np.array([-1000.0, -100.0, -1.0, 0.0, 1.0, 100.0, 1000.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_finite_and_correct_at_extremes(dtype):
    x = cr.tensor(EXTREMES.astype(dtype), requires_grad=True)
    s = cr.sigmoid(x)
    s.sum().backward()
    assert np.all(np.isfinite(s.data)) and np.all(np.isfinite(x.grad))
    assert s.data[0] == 0.0 and s.data[-1] == 1.0 and s.data[3] == 0.5
    assert x.grad[0] == 0.0 and x.grad[-1] == 0.0 and x.grad[3] == 0.25


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_is_finite_and_correct_at_extremes(dtype):
    x = cr.tensor(EXTREMES.astype(dtype), requires_grad=True)
    y = cr.softplus(x)
    y.sum().backward()
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))
    assert y.data[-1] == 1000.0 and y.data[0] == 0.0
    assert y.data[3] == pytest.approx(np.log(2.0), rel=1e-6)
    np.testing.assert_allclose(x.grad, [0, 0, 0.26894142, 0.5, 0.73105858, 1, 1], atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_at_logits_of_plus_minus_1000(dtype):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]], dtype=dtype)
    for f in (cr.softmax, cr.log_softmax):
        x = cr.tensor(logits, requires_grad=True)
        y = f(x, axis=1)
        y.backward(np.ones_like(logits))
        assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad)), f.__name__
    s = cr.softmax(cr.tensor(logits), axis=1).data
    np.testing.assert_allclose(s, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)
    ls = cr.log_softmax(cr.tensor(logits), axis=1).data
    np.testing.assert_allclose(ls[0], [0.0, -2000.0, -1000.0], rtol=1e-6)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_logsumexp_at_extremes_and_all_minus_infinity():
    x = cr.tensor(np.array([1000.0, 1000.0, -1000.0]), requires_grad=True)
    y = cr.logsumexp(x)
    y.backward()
    assert y.item() == pytest.approx(1000.0 + np.log(2.0))
    np.testing.assert_allclose(x.grad, [0.5, 0.5, 0.0])
    minus_inf = cr.logsumexp(cr.tensor(np.array([-np.inf, -np.inf])))
    assert minus_inf.item() == -np.inf  # log(0), not NaN


def test_elu_does_not_overflow_for_large_positive_inputs():
    x = cr.tensor(np.array([1000.0, -1000.0]), requires_grad=True)
    with cr.detect_anomaly():
        y = cr.elu(x)
        y.sum().backward()
    np.testing.assert_allclose(y.data, [1000.0, -1.0])
    np.testing.assert_allclose(x.grad, [1.0, 0.0])
