"""Each optimizer against a plain, out-of-place reference of its published update rule,
over several steps with changing gradients; and the notes' update exactly."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

rng = np.random.default_rng(0)
GRADS = [rng.normal(size=(3, 2)) for _ in range(5)]
THETA0 = rng.normal(size=(3, 2))


def run(make_optimizer, grads=GRADS, schedule=None):
    p = cr.nn.Parameter(THETA0.copy(), dtype="float64")
    opt = make_optimizer([p])
    for t, g in enumerate(grads):
        if schedule is not None:
            opt.lr = schedule(t)
        p.grad = g.copy()
        opt.step()
    return p.data


def test_plain_sgd_is_the_notes_update_with_a_changing_step_size():
    steps = [0.5, 0.25, 0.1, 0.05, 0.01]
    theta = THETA0.copy()
    for eps, g in zip(steps, GRADS, strict=True):
        theta = theta - eps * g  # theta(t+1) = theta(t) - eps(t) dLoss/dtheta
    got = run(lambda ps: optim.SGD(ps, lr=1.0), schedule=lambda t: steps[t])
    np.testing.assert_allclose(got, theta, rtol=1e-14)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_sgd_momentum(nesterov, weight_decay):
    lr, mu = 0.1, 0.9
    theta, v = THETA0.copy(), None
    for g in GRADS:
        g = g + weight_decay * theta
        v = g if v is None else mu * v + g
        theta = theta - lr * (g + mu * v if nesterov else v)
    got = run(
        lambda ps: optim.SGD(ps, lr=lr, momentum=mu, nesterov=nesterov, weight_decay=weight_decay)
    )
    np.testing.assert_allclose(got, theta, rtol=1e-12)


@pytest.mark.parametrize(
    ("cls", "weight_decay"), [(optim.Adam, 0.0), (optim.Adam, 0.1), (optim.AdamW, 0.1)]
)
def test_adam_and_adamw(cls, weight_decay):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    theta, m, v = THETA0.copy(), 0.0, 0.0
    for t, g in enumerate(GRADS, start=1):
        if cls is optim.AdamW:
            theta = theta * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    got = run(lambda ps: cls(ps, lr=lr, weight_decay=weight_decay))
    np.testing.assert_allclose(got, theta, rtol=1e-12)


def test_rmsprop():
    lr, alpha, eps = 0.01, 0.99, 1e-8
    theta, s = THETA0.copy(), 0.0
    for g in GRADS:
        s = alpha * s + (1 - alpha) * g * g
        theta = theta - lr * g / (np.sqrt(s) + eps)
    np.testing.assert_allclose(run(lambda ps: optim.RMSprop(ps, lr=lr)), theta, rtol=1e-12)


def test_float32_parameters_stay_float32_and_are_updated_in_place():
    p = cr.nn.Parameter(np.ones(4, dtype=np.float32))
    data = p.data
    for opt in (optim.SGD([p], 0.1, momentum=0.9), optim.Adam([p]), optim.RMSprop([p])):
        p.grad = np.full(4, 0.5, dtype=np.float32)
        opt.step()
        assert p.data is data and p.data.dtype == np.float32


def test_parameters_without_gradient_are_left_alone_and_zero_grad_resets():
    a, b = cr.nn.Parameter(np.ones(2)), cr.nn.Parameter(np.ones(2))
    opt = optim.SGD([a, b], lr=0.5)
    a.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(a.data, [0.5, 0.5])
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    opt.zero_grad()
    assert a.grad is None


def test_state_dict_round_trip_continues_identically():
    first = run(lambda ps: optim.Adam(ps, lr=0.01), grads=GRADS[:3])
    p = cr.nn.Parameter(first.copy(), dtype="float64")
    reference = optim.Adam([cr.nn.Parameter(THETA0.copy(), dtype="float64")], lr=0.01)
    for g in GRADS[:3]:
        reference.params[0].grad = g
        reference.step()
    restored = optim.Adam([p], lr=0.5)
    restored.load_state_dict(reference.state_dict())
    assert restored.lr == 0.01 and restored.steps == 3
    for g in GRADS[3:]:
        p.grad = g
        restored.step()
    np.testing.assert_allclose(p.data, run(lambda ps: optim.Adam(ps, lr=0.01)), rtol=1e-12)
    with pytest.raises(ValueError, match="state of a Adam given to a SGD"):
        optim.SGD([p], 0.1).load_state_dict(reference.state_dict())


def test_bad_arguments():
    p = cr.nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="positive"):
        optim.SGD([p], lr=0)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
