"""Composite functions against HIPS autograd, an independent engine, as oracle."""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad as autograd_grad

import chainrule as cr

rng = np.random.default_rng(7)
X = rng.normal(size=(5, 3))
U1, U2, U3 = rng.normal(size=(3, 5)), rng.normal(size=(5, 4)), rng.normal(size=(4, 2))
B1, B2, B3 = rng.normal(size=5), rng.normal(size=4), rng.normal(size=2)
Y = np.eye(2)[rng.integers(0, 2, size=5)]


def anp_logsumexp(z, axis, keepdims=False):
    m = anp.max(z, axis=axis, keepdims=True)
    out = m + anp.log(anp.sum(anp.exp(z - m), axis=axis, keepdims=True))
    return out if keepdims else anp.squeeze(out, axis=axis)


def anp_sigmoid(x):
    return 0.5 * (anp.tanh(x / 2) + 1)


def anp_log_softmax(z):
    return z - anp_logsumexp(z, axis=1, keepdims=True)


def anp_softplus(x):
    return anp.logaddexp(0, x)


def anp_gelu(x):
    return 0.5 * x * (1 + anp.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def anp_elu(x, alpha=1.0):
    return anp.where(x > 0, x, alpha * (anp.exp(anp.minimum(x, 0)) - 1))


# (name, chainrule function, autograd function), each of the notes' network's parameters
CASES = [
    (
        "3-5-4-2 network, sigmoid/tanh hidden, softmax + cross-entropy",
        lambda u1, u2, u3: (
            -(Y * cr.log_softmax(cr.tanh(cr.sigmoid(X @ u1 + B1) @ u2 + B2) @ u3 + B3, axis=1))
            .sum(axis=1)
            .mean()
        ),
        lambda u1, u2, u3: (
            -anp.mean(
                anp.sum(
                    Y
                    * anp_log_softmax(
                        anp.tanh(anp_sigmoid(anp.dot(X, u1) + B1) @ u2 + B2) @ u3 + B3
                    ),
                    axis=1,
                )
            )
        ),
    ),
    (
        "relu/softplus hidden, identity output + MSE",
        lambda u1, u2, u3: (
            ((cr.softplus(cr.relu(X @ u1 + B1) @ u2 + B2) @ u3 + B3 - Y) ** 2).sum(axis=1).mean()
        ),
        lambda u1, u2, u3: anp.mean(
            anp.sum(
                (anp_softplus(anp.maximum(anp.dot(X, u1) + B1, 0) @ u2 + B2) @ u3 + B3 - Y) ** 2,
                axis=1,
            )
        ),
    ),
    (
        "gelu/elu hidden, sigmoid output + binary cross-entropy",
        lambda u1, u2, u3: (
            -(
                Y * cr.log(cr.sigmoid(cr.elu(cr.gelu(X @ u1 + B1) @ u2 + B2) @ u3 + B3))
                + (1 - Y) * cr.log(1 - cr.sigmoid(cr.elu(cr.gelu(X @ u1 + B1) @ u2 + B2) @ u3 + B3))
            ).mean()
        ),
        lambda u1, u2, u3: (
            -anp.mean(
                Y * anp.log(anp_sigmoid(anp_elu(anp_gelu(anp.dot(X, u1) + B1) @ u2 + B2) @ u3 + B3))
                + (1 - Y)
                * anp.log(
                    1 - anp_sigmoid(anp_elu(anp_gelu(anp.dot(X, u1) + B1) @ u2 + B2) @ u3 + B3)
                )
            )
        ),
    ),
    (
        "softmax, logsumexp and the fused linear gate",
        lambda u1, u2, u3: (
            cr.logsumexp(cr.softmax(cr.linear(X, u1, B1), axis=0) @ u2, axis=1).sum()
            + (u3**3).sum()
        ),
        lambda u1, u2, u3: (
            anp.sum(anp_logsumexp(anp.exp(anp_log_softmax((anp.dot(X, u1) + B1).T).T) @ u2, axis=1))
            + anp.sum(u3**3)
        ),
    ),
]


@pytest.mark.parametrize(("name", "ours", "theirs"), CASES, ids=[c[0] for c in CASES])
def test_network_gradients_match_autograd(name, ours, theirs):
    params = [cr.tensor(u, requires_grad=True) for u in (U1, U2, U3)]
    loss = ours(*params)
    assert loss.item() == pytest.approx(float(theirs(U1, U2, U3)), rel=1e-12)
    loss.backward()
    for i, p in enumerate(params):
        expected = autograd_grad(theirs, i)(U1, U2, U3)
        np.testing.assert_allclose(p.grad, expected, rtol=1e-10, atol=1e-12, err_msg=f"U{i + 1}")


def test_softmax_elementary_matches_the_fused_gate_and_autograd():
    z = rng.normal(size=(4, 3)) * 3
    w = rng.normal(size=(4, 3))
    a, b = cr.tensor(z, requires_grad=True), cr.tensor(z, requires_grad=True)
    (cr.softmax(a, axis=1) * w).sum().backward()
    (cr.softmax_elementary(b, axis=1) * w).sum().backward()
    expected = autograd_grad(lambda v: anp.sum(anp.exp(anp_log_softmax(v)) * w))(z)
    np.testing.assert_allclose(a.grad, expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(b.grad, expected, rtol=1e-10, atol=1e-14)
