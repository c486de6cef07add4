"""One formula per gate: a gate's in-place variant (``out=``) is the same function, so its
values are the plain variant's to the last bit; a fused gate is its parts in a row, bit
for bit; and every vjp keeps the contract the walkers' ownership rests on (a gradient it
returns is the upstream, a view, or a new array shared with nothing it saved)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import chainrule as cr
from chainrule.autodiff import elementary, fused
from chainrule.autodiff.gates import GATES, Gate

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)
OPTIONS = {"leaky_relu": {"slope": 0.05}, "elu": {"alpha": 0.7}}
FORWARD_OUT = sorted(name for name, gate in GATES.items() if gate.forward_out)
VJP_OUT = sorted(name for name, gate in GATES.items() if gate.vjp_out)


def values(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """Values of both signs, some exactly 0 (the kink of relu) and some large."""
    a = rng.normal(scale=3.0, size=shape)
    a[rng.random(shape) < 0.15] = 0.0
    return a.astype(dtype)


def test_the_variants_are_declared_where_they_pay():
    """The activations a layer writes over its own temporary (forward_out) and whose
    local gradient a walker writes over an upstream it owns (vjp_out), fused or not."""
    assert {"relu", "tanh"} <= set(FORWARD_OUT)
    assert {"relu", "tanh", "sigmoid", "linear_relu", "linear_tanh", "linear_sigmoid"} <= set(
        VJP_OUT
    )


@pytest.mark.parametrize("name", FORWARD_OUT)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@SETTINGS
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=5), seed=st.integers(0, 2**16))
def test_forward_written_over_its_input_is_the_plain_forward_bit_for_bit(name, dtype, shape, seed):
    gate = GATES[name]
    a = values(np.random.default_rng(seed), shape, dtype)
    plain, plain_saved = gate.forward(np, a)
    target = a.copy()
    written, written_saved = gate.forward(np, target, out=target)
    assert written is target  # in place, over the input
    assert np.array_equal(plain, written) and written.dtype == plain.dtype
    assert np.array_equal(plain_saved, written_saved)


def _elementwise_case(gate: Gate, rng, shape, dtype):
    """(saved, needs) of an elementwise gate's forward on random values."""
    _, saved = gate.forward(np, values(rng, shape, dtype), **OPTIONS.get(gate.name, {}))
    return saved, (True,)


def _fused_case(gate: Gate, rng, shape, dtype):
    """(saved, needs) of a linear_<activation> gate on a batch of the shape's rows."""
    n_in = 3
    x = values(rng, (*shape[:-1], n_in), dtype)
    weight = values(rng, (n_in, shape[-1]), dtype) / 3
    bias = values(rng, (shape[-1],), dtype)
    activation = gate.name.removeprefix("linear_")
    _, saved = gate.forward(np, x, weight, bias, **OPTIONS.get(activation, {}))
    return saved, (True, True, True)


@pytest.mark.parametrize("name", VJP_OUT)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@SETTINGS
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=5), seed=st.integers(0, 2**16))
def test_vjp_written_over_the_upstream_is_the_plain_vjp_bit_for_bit(name, dtype, shape, seed):
    gate = GATES[name]
    rng = np.random.default_rng(seed)
    case = _fused_case if name.startswith("linear_") else _elementwise_case
    saved, needs = case(gate, rng, shape, dtype)
    g = values(rng, shape, dtype)
    plain = gate.vjp(np, g.copy(), saved, needs)
    upstream = g.copy()
    written = gate.vjp(np, upstream, saved, needs, out=upstream)
    if not name.startswith("linear_"):
        assert written[0] is upstream  # the local gradient was written over g
    for p, w in zip(plain, written, strict=True):
        assert np.array_equal(p, w) and p.dtype == w.dtype


@pytest.mark.parametrize("activation", sorted(fused.LINEAR_THEN))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_fused_gate_is_the_linear_gate_then_the_activation_bit_for_bit(activation, dtype):
    rng = np.random.default_rng(7)
    x, weight, bias = values(rng, (6, 4), dtype), values(rng, (4, 3), dtype), values(rng, 3, dtype)
    options = OPTIONS.get(activation, {})
    act = GATES[activation]
    z, linear_saved = GATES["linear"].forward(np, x, weight, bias)
    expected, act_saved = act.forward(np, z, **options)
    out, saved = fused.LINEAR_THEN[activation].forward(np, x, weight, bias, **options)
    assert np.array_equal(out, expected)
    g = values(rng, out.shape, dtype)
    (gz,) = act.vjp(np, g, act_saved, (True,))
    expected_grads = GATES["linear"].vjp(np, gz, linear_saved, (True, True, True))
    got = fused.LINEAR_THEN[activation].vjp(np, g, saved, (True, True, True))
    for e, w in zip(expected_grads, got, strict=True):
        assert np.array_equal(e, w)


def _arrays_in(value) -> list[np.ndarray]:
    """The arrays inside a gate's saved values (nested tuples, lists and dicts)."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for item in value for a in _arrays_in(item)]
    if isinstance(value, dict):
        return [a for item in value.values() for a in _arrays_in(item)]
    return []


@pytest.fixture
def contract_checked(monkeypatch):
    """Every gate's vjp wrapped with a check of the contract, for one test; yields the
    names of the gates whose vjp ran."""
    ran: set[str] = set()

    def checked(gate: Gate, vjp):
        def wrapper(xp, g, saved, needs, out=None):
            grads = vjp(xp, g, saved, needs) if out is None else vjp(xp, g, saved, needs, out)
            ran.add(gate.name)
            kept = _arrays_in(saved)
            claimed_new = [
                r for r in grads if isinstance(r, np.ndarray) and r is not g and r.base is None
            ]
            for i, r in enumerate(claimed_new):
                assert not np.shares_memory(r, g), gate.name
                assert not any(np.shares_memory(r, k) for k in kept), gate.name
                assert not any(np.shares_memory(r, o) for o in claimed_new[i + 1 :]), gate.name
            views = [r for r in grads if isinstance(r, np.ndarray) and r.base is not None]
            for view in views:  # a view of g may be handed on; of a new array, never
                assert not any(np.shares_memory(view, r) for r in claimed_new), gate.name
            return grads

        return wrapper

    for gate in GATES.values():
        monkeypatch.setattr(gate, "vjp", checked(gate, gate.vjp))
    return ran


def test_every_vjp_returns_new_arrays_that_share_nothing(contract_checked):
    """The walkers take an array a vjp returns as their own when it is neither the
    upstream nor a view: run every gate backwards and check that such an array shares
    memory with nothing the gate saved, the upstream or another of its gradients."""
    rng = np.random.default_rng(0)

    def leaf(shape, positive=False):
        v = rng.uniform(0.3, 2.0, size=shape) if positive else rng.normal(size=shape)
        return cr.tensor(v, requires_grad=True)

    a, b, p = leaf((3, 4)), leaf((3, 4)), leaf((3, 4), positive=True)
    terms = [
        a + b, a - b, -a, a * b, a / p, a**2, a**3, p**b, cr.exp(a), cr.log(p), cr.sqrt(p),
        cr.abs(a), cr.maximum(a, b), cr.minimum(a, b), cr.clip(a, -0.5, 0.5),
        cr.where(a.data > 0, a, b), a.astype(np.float32).astype(np.float64), cr.sigmoid(a),
        cr.tanh(a), cr.relu(a), cr.leaky_relu(a, 0.1), cr.elu(a, 0.7), cr.softplus(a),
        cr.gelu(a), cr.softmax(a), cr.log_softmax(a), cr.logsumexp(a, axis=1, keepdims=True),
        a.sum(axis=0, keepdims=True), a.mean(), a.max(axis=1), a.min(axis=0),
        a @ b.T, a.reshape(4, 3).T, a[1:], a[[0, 0, 2]], cr.concatenate([a, b], axis=0),
        cr.stack([a, b]), cr.linear(a, leaf((4, 2)), leaf(2)), cr.sum_of_squares(a, b),
    ]  # fmt: skip
    for name in fused.LINEAR_THEN:
        terms.append(cr.linear_activation(a, leaf((4, 2)), leaf(2), name, **OPTIONS.get(name, {})))
    total = sum((t * rng.normal(size=t.shape)).sum() for t in terms)
    total.backward()
    logits, labels = leaf((5, 3)), rng.integers(0, 3, size=5)
    cr.nn.functional.cross_entropy(logits, labels).backward()
    cr.nn.functional.binary_cross_entropy_with_logits(
        logits, (labels[:, None] % 2) * np.ones(3)
    ).backward()
    cr.nn.functional.mse(logits, rng.normal(size=(5, 3))).backward()
    assert {name for name in GATES if name not in contract_checked} == set()


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("batch", [1, 5])
def test_the_vjps_a_chain_writes_over_its_upstream_keep_the_contract(
    contract_checked, activation, batch
):
    """The same check on the chain walker's path, where a gate with vjp_out writes its
    local gradient over an upstream the walker owns (a batch of one: the bias gradient
    is then a view of that upstream)."""
    rng = np.random.default_rng(1)
    model = cr.nn.MLP([4, 5, 3, 2], activation, "sigmoid", seed=0, dtype="float64")
    x, y = rng.normal(size=(batch, 4)), rng.uniform(size=(batch, 2))
    cr.nn.value_and_grad(model, "mse")(x, y)  # the sigmoid output is a link of its own
    assert {f"linear_{activation}", "sigmoid", "squared_error"} <= contract_checked


def test_a_second_copy_of_a_formula_is_not_kept_beside_the_first():
    """No gate keeps a hand-written in-place twin beside its vjp (the old *_into)."""
    for module in (elementary, fused):
        assert not [name for name in vars(module) if name.endswith("_into")], module.__name__
