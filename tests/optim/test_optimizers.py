"""Each optimizer against a plain, out-of-place reference of its published update rule,
over several steps with changing gradients; and the notes' update exactly."""

from typing import ClassVar

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import optimizers

rng = np.random.default_rng(0)
GRADS = [rng.normal(size=(3, 2)) for _ in range(5)]
THETA0 = rng.normal(size=(3, 2))


def run(make_optimizer, grads=GRADS, schedule=None):
    """The parameter after the steps, checked to be the same whether the gradients are
    kept or released (when the update may work in the gradient's own array)."""
    results = []
    for release in (False, True):
        p = cr.nn.Parameter(THETA0.copy(), dtype="float64")
        opt = make_optimizer([p])
        for t, g in enumerate(grads):
            if schedule is not None:
                opt.lr = schedule(t)
            p.grad = g.copy()
            opt.step(release_grads=release)
            assert (p.grad is None) == release
        results.append(p.data)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-15, atol=0)
    return results[0]


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


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, 0.1),
        lambda ps: optim.SGD(ps, 0.1, momentum=0.9, nesterov=True),
        lambda ps: optim.Adam(ps),
        lambda ps: optim.RMSprop(ps),
    ],
)
def test_released_gradients_still_seen_elsewhere_are_never_overwritten(make, monkeypatch):
    """A gradient the caller still holds, a view, or one array shared by two parameters
    (the add gate hands both inputs the same gradient) is read, not used as work space."""
    monkeypatch.setattr(optimizers, "GROUP_LIMIT", 0)  # the per-parameter update
    a, b, c = (cr.nn.Parameter(np.ones((3, 2))) for _ in range(3))
    held = np.full((3, 2), 0.5)
    shared = np.full((3, 2), 0.25)
    base = np.full((6, 2), 0.75)
    a.grad, b.grad, c.grad = held, shared, base[:3]
    d = cr.nn.Parameter(np.ones((3, 2)))
    d.grad = shared
    make([a, b, c, d]).step(release_grads=True)
    np.testing.assert_array_equal(held, 0.5)
    np.testing.assert_array_equal(shared, 0.25)
    np.testing.assert_array_equal(base, 0.75)
    assert a.grad is b.grad is c.grad is d.grad is None


def test_a_gradient_read_or_set_from_outside_is_never_the_work_space(monkeypatch):
    """Ownership is what the engine knows, not a guess: a gradient somebody has read
    (they may hold it) or set is only read, even when the update could reuse it."""
    p, q = cr.nn.Parameter(np.ones((3, 2))), cr.nn.Parameter(np.ones((3, 2)))
    (p * 0.5 + q * 0.5).sum().backward()
    seen = p.grad  # read: p's gradient may now be held outside the engine
    q.grad = np.full((3, 2), 0.5)  # set by the caller
    monkeypatch.setattr(optimizers, "GROUP_LIMIT", 0)  # the per-parameter update
    opt = optim.Adam([p, q], 0.1)
    opt.step(release_grads=True)
    assert all(work is not None for work in opt.scratch)
    np.testing.assert_array_equal(seen, 0.5)


def test_a_gradient_nothing_else_holds_becomes_the_work_space():
    """The point of release_grads: no separate work buffer is made for the update, when
    backpropagation made the gradient for this parameter and nobody has read it since."""
    p = cr.nn.Parameter(np.ones((3, 2)))
    (p * 0.5).sum().backward()  # p.grad = 0.5 everywhere, made by the engine for p alone
    opt = optim.SGD([p], 0.1)
    opt.step(release_grads=True)
    assert opt.scratch == [None]
    p.grad = np.full((3, 2), 0.5)
    opt.step()
    assert opt.scratch[0] is not None
    np.testing.assert_allclose(p.data, 0.9)


MAKERS = {
    "sgd": lambda ps: optim.SGD(ps, 0.1),
    "sgd-nesterov-decay": lambda ps: optim.SGD(
        ps, 0.1, momentum=0.9, nesterov=True, weight_decay=0.01
    ),
    "adam": lambda ps: optim.Adam(ps, 0.01, weight_decay=0.1),
    "adamw": lambda ps: optim.AdamW(ps, 0.01),
    "rmsprop": lambda ps: optim.RMSprop(ps, 0.01),
}


class _Layers(cr.nn.Module):
    def __init__(self):
        r = np.random.default_rng(7)
        self.U = cr.nn.Parameter(r.normal(size=(4, 3)), dtype="float64")
        self.b = cr.nn.Parameter(r.normal(size=(3,)), dtype="float64")
        self.V = cr.nn.Parameter(r.normal(size=(3, 2)), dtype="float64")


def _layer_params(shared=False):
    """Three parameters, as separate arrays or as parts of one (flatten_parameters)."""
    layers = _Layers()
    if shared:
        flat = layers.flatten_parameters()
        assert all(p.data.base is flat for p in layers.parameters())
    return layers.parameters()


def _train(make, steps, missing_at=None, shared=False):
    """Parameters and optimizer after `steps` steps of known gradients; at step
    `missing_at` the second parameter has no gradient (the per-parameter path)."""
    params = _layer_params(shared)
    data = [p.data for p in params]
    opt = make(params)
    r = np.random.default_rng(8)
    for t in range(steps):
        for p in params:
            p.grad = r.normal(size=p.data.shape)
        if t == missing_at:
            params[1].grad = None
        opt.step(release_grads=t % 2 == 1)
    assert all(p.data is d for p, d in zip(params, data, strict=True))  # updated in place
    return params, opt


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("name", sorted(MAKERS))
def test_small_parameter_sets_updated_as_one_vector_match_the_per_parameter_rule(
    name, shared, monkeypatch
):
    calls = []
    step_group = optim.Optimizer._step_group
    monkeypatch.setattr(
        optim.Optimizer,
        "_step_group",
        lambda self, grads, release: calls.append(1) or step_group(self, grads, release),
    )
    grouped, opt = _train(MAKERS[name], 6, missing_at=3, shared=shared)
    # five of the six steps go flat, except plain SGD on separate arrays (two calls a
    # parameter: not worth copying them)
    assert len(calls) == (0 if name == "sgd" and not shared else 5)
    monkeypatch.setattr(optimizers, "GROUP_LIMIT", 0)
    single, single_opt = _train(MAKERS[name], 6, missing_at=3)
    assert single_opt._group is None
    for a, b in zip(grouped, single, strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-14, atol=1e-15)
    state, single_state = opt.state_dict(), single_opt.state_dict()
    for key, buffers in state["buffers"].items():
        for a, b in zip(buffers, single_state["buffers"][key], strict=True):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_a_parameter_rebound_mid_training_is_still_updated_right(name, monkeypatch):
    """Rebinding p.data breaks the shared array; the optimizer notices and still follows
    its rule (checked against the per-parameter update doing the same)."""

    def run(shared):
        params = _layer_params(shared)
        opt = MAKERS[name](params)
        r = np.random.default_rng(3)
        for t in range(4):
            if t == 2:
                params[0].data = params[0].data + 1.0  # a new array
            for p in params:
                p.grad = r.normal(size=p.data.shape)
            opt.step()
        return [p.data for p in params]

    shared = run(True)
    monkeypatch.setattr(optimizers, "GROUP_LIMIT", 0)
    for a, b in zip(shared, run(False), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", ["adam", "sgd-nesterov-decay", "rmsprop"])
def test_a_loaded_state_continues_the_grouped_update(name):
    first, opt = _train(MAKERS[name], 3)
    params = _layer_params()
    for p, q in zip(params, first, strict=True):
        p.data[...] = q.data
    resumed = MAKERS[name](params)
    resumed.load_state_dict(opt.state_dict())
    r = np.random.default_rng(9)
    for _ in range(2):
        grads = [r.normal(size=p.data.shape) for p in params]
        for p, q, g in zip(params, first, grads, strict=True):
            p.grad, q.grad = g, g.copy()
        resumed.step()
        opt.step()
    for p, q in zip(params, first, strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-14)


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
    # the state is kept as it is computed, so the resumed run is the same bits
    np.testing.assert_array_equal(p.data, run(lambda ps: optim.Adam(ps, lr=0.01)))
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


class _Float32Only(np.ndarray):
    """An array that records the dtype of every operand of every NumPy operation on it,
    so a test can see a float64 scalar slip into float32 arithmetic (NumPy 2 computes
    ``a32 *= np.float64(c)`` in float64 and only then rounds back to float32)."""

    operand_dtypes: ClassVar[list] = []

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        operands = inputs + (out or ())
        for x in operands:
            if type(x) not in (int, float):  # Python numbers adopt the array's dtype
                # (np.float64 subclasses float, but it keeps its own dtype)
                _Float32Only.operand_dtypes.append((ufunc.__name__, np.asarray(x).dtype))
        plain = [np.asarray(x) if isinstance(x, _Float32Only) else x for x in inputs]
        if out is not None:
            kwargs["out"] = tuple(np.asarray(x) for x in out)
        result = getattr(ufunc, method)(*plain, **kwargs)
        return out[0] if out is not None else np.asarray(result).view(_Float32Only)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_float32_updates_compute_in_float32_throughout(name, monkeypatch):
    """No float64 scalar or array takes part in any operation of a float32 update:
    each one would cost a conversion pass and change the result's rounding.  (The
    update run on the parameters end to end is the same code, on plain arrays.)"""
    monkeypatch.setattr(optimizers, "GROUP_LIMIT", 0)
    params = [cr.nn.Parameter(np.ones(1, np.float32)) for _ in range(2)]
    params[0].data = np.ones((3, 2), np.float32).view(_Float32Only)
    params[1].data = np.ones(2, np.float32).view(_Float32Only)
    opt = MAKERS[name](params)
    _Float32Only.operand_dtypes = []
    for t in range(3):
        for p in params:
            p.grad = np.full(p.data.shape, 0.5 + t, np.float32).view(_Float32Only)
        opt.step(release_grads=t % 2 == 1)
    assert _Float32Only.operand_dtypes, "the update went around the recording arrays"
    wider = [(op, str(d)) for op, d in _Float32Only.operand_dtypes if d != np.float32]
    assert not wider, f"float64 operands in a float32 update: {wider}"
    assert all(p.data.dtype == np.float32 for p in params)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda ps: optim.SGD(ps, 0.25), 0.25),
        (lambda ps: optim.SGD(ps, 0.25, momentum=0.9), None),
        (lambda ps: optim.SGD(ps, 0.25, weight_decay=0.01), None),
        (lambda ps: optim.Adam(ps, 0.25), None),
        (lambda ps: optim.AdamW(ps, 0.25), None),
        (lambda ps: optim.RMSprop(ps, 0.25), None),
    ],
)
def test_plain_step_size_only_for_the_notes_update(make, expected):
    """c when the step is theta -= c g and nothing more, so that a gradient may arrive
    multiplied by c; a schedule's change of lr is seen at once."""
    opt = make([cr.nn.Parameter(THETA0.copy())])
    assert opt.plain_step_size() == expected
    opt.lr = 0.125
    assert opt.plain_step_size() == (None if expected is None else 0.125)


@pytest.mark.parametrize("release", [False, True])
def test_a_prescaled_step_subtracts_each_gradient_as_it_is(release, monkeypatch):
    """step(prescaled=True): each grad already holds c g, so theta -= grad, exactly;
    the same whether the parameters are updated one by one or end to end."""
    for limit in (0, optimizers.GROUP_LIMIT):
        monkeypatch.setattr(optimizers, "GROUP_LIMIT", limit)
        params = [cr.nn.Parameter(THETA0.copy()) for _ in range(3)]
        grads = [0.1 * g for g in GRADS[:2]]
        params[0].grad, params[1].grad = grads[0].copy(), grads[1].copy()  # params[2]: none
        opt = optim.SGD(params, lr=0.1)
        opt.step(release_grads=release, prescaled=True)
        np.testing.assert_array_equal(params[0].data, THETA0 - grads[0])
        np.testing.assert_array_equal(params[1].data, THETA0 - grads[1])
        np.testing.assert_array_equal(params[2].data, THETA0)
        assert (params[0].grad is None) == release and params[2].grad is None
        if not release:  # the gradients are read, never written
            np.testing.assert_array_equal(params[0].grad, grads[0])
        assert opt.steps == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, 0.1, momentum=0.9),
        lambda ps: optim.SGD(ps, 0.1, weight_decay=0.01),
        lambda ps: optim.Adam(ps),
        lambda ps: optim.RMSprop(ps),
    ],
)
def test_a_prescaled_step_is_refused_when_the_update_is_not_c_times_g(make):
    p = cr.nn.Parameter(THETA0.copy())
    p.grad = GRADS[0].copy()
    opt = make([p])
    with pytest.raises(ValueError, match=r"prescaled=True.*plain_step_size\(\) is None"):
        opt.step(prescaled=True)
    np.testing.assert_array_equal(p.data, THETA0)
    assert opt.steps == 0
