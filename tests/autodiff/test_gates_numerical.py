"""Every gate's local gradient against central differences in float64 (an oracle that
does not use the engine's backward), over shapes drawn by hypothesis, broadcasting
included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import chainrule as cr
from chainrule.autodiff.gates import GATES

SETTINGS = settings(max_examples=25, deadline=None)


def away_from_kinks(rng: np.random.Generator, shape, low=0.2, high=2.0) -> np.ndarray:
    """Values with |v| in [low, high]: central differences are exact enough away from
    the kinks of abs, relu, max, clip (0) and stay in every gate's domain."""
    magnitude = rng.uniform(low, high, size=shape)
    return np.where(rng.random(shape) < 0.5, -magnitude, magnitude)


def positive(rng, shape):
    return rng.uniform(0.3, 2.0, size=shape)


def assert_gradients_match(f, *arrays):
    report = cr.gradcheck(f, *arrays, atol=1e-6, rtol=1e-5)
    assert report.passed, str(report)


BINARY = {
    "add": (lambda a, b: a + b, away_from_kinks, away_from_kinks),
    "sub": (lambda a, b: a - b, away_from_kinks, away_from_kinks),
    "mul": (lambda a, b: a * b, away_from_kinks, away_from_kinks),
    "div": (lambda a, b: a / b, away_from_kinks, away_from_kinks),
    "pow": (lambda a, b: a**b, positive, away_from_kinks),
    "maximum": (cr.maximum, away_from_kinks, away_from_kinks),
    "minimum": (cr.minimum, away_from_kinks, away_from_kinks),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
    seed=st.integers(0, 2**16),
)
def test_binary_gate_with_broadcasting(name, shapes, seed):
    f, domain_a, domain_b = BINARY[name]
    rng = np.random.default_rng(seed)
    a = domain_a(rng, shapes.input_shapes[0])
    b = domain_b(rng, shapes.input_shapes[1])
    assert_gradients_match(f, a, b)


UNARY = {
    "neg": (lambda a: -a, away_from_kinks),
    "pow_const": (lambda a: a**3, away_from_kinks),
    "pow_const_square": (lambda a: a**2, away_from_kinks),
    "pow_const_fractional": (lambda a: a**1.5, positive),
    "exp": (cr.exp, away_from_kinks),
    "log": (cr.log, positive),
    "sqrt": (cr.sqrt, positive),
    "abs": (cr.abs, away_from_kinks),
    "sigmoid": (cr.sigmoid, away_from_kinks),
    "tanh": (cr.tanh, away_from_kinks),
    "relu": (cr.relu, away_from_kinks),
    "leaky_relu": (lambda a: cr.leaky_relu(a, 0.1), away_from_kinks),
    "elu": (lambda a: cr.elu(a, 0.7), away_from_kinks),
    "softplus": (cr.softplus, away_from_kinks),
    "gelu": (cr.gelu, away_from_kinks),
    "clip": (lambda a: cr.clip(a, -1.0, 1.1), away_from_kinks),
    "astype": (lambda a: (a * 1.0).astype(np.float64), away_from_kinks),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(shape=array_shapes(min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 2**16))
def test_elementwise_gate(name, shape, seed):
    f, domain = UNARY[name]
    rng = np.random.default_rng(seed)
    x = domain(rng, shape)
    if name == "clip":  # keep values off the bounds -1 and 1.1
        x = np.where(np.abs(np.abs(x) - 1.05) < 0.1, x * 0.5, x)
    assert_gradients_match(f, x)


def axis_for(shape, draw_index: int):
    if not shape:
        return None
    choices = [None, *range(len(shape)), *range(-len(shape), 0)]
    if len(shape) >= 2:
        choices.append((0, len(shape) - 1))
    return choices[draw_index % len(choices)]


REDUCTIONS = {
    "sum": lambda a, axis, keep: a.sum(axis=axis, keepdims=keep),
    "mean": lambda a, axis, keep: a.mean(axis=axis, keepdims=keep),
    "max": lambda a, axis, keep: a.max(axis=axis, keepdims=keep),
    "min": lambda a, axis, keep: a.min(axis=axis, keepdims=keep),
    "logsumexp": lambda a, axis, keep: cr.logsumexp(a, axis=axis, keepdims=keep),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SETTINGS
@given(
    shape=array_shapes(min_dims=0, max_dims=3, max_side=4),
    axis_index=st.integers(0, 10),
    keepdims=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_reduction_gate(name, shape, axis_index, keepdims, seed):
    rng = np.random.default_rng(seed)
    # distinct values, so that max/min have a unique winner and differences stay exact
    x = rng.permutation(np.arange(int(np.prod(shape)), dtype=float)).reshape(shape) * 0.3
    axis = axis_for(shape, axis_index)
    assert_gradients_match(lambda a: REDUCTIONS[name](a, axis, keepdims), x)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@SETTINGS
@given(
    shape=array_shapes(min_dims=1, max_dims=3, max_side=4),
    axis_index=st.integers(0, 5),
    seed=st.integers(0, 2**16),
)
def test_softmax_family(name, shape, axis_index, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape) * 2
    axis = list(range(-len(shape), len(shape)))[axis_index % (2 * len(shape))]
    f = getattr(cr, name)
    assert_gradients_match(lambda a: f(a, axis=axis), x)


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3, 4)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (2, 3, 1)),
    ((1, 2, 3), (4, 3, 2)),
    ((2, 1, 2, 3), (3, 3, 2)),
]


@pytest.mark.parametrize(("shape_a", "shape_b"), MATMUL_SHAPES)
def test_matmul_gate(shape_a, shape_b):
    rng = np.random.default_rng(0)
    assert_gradients_match(lambda a, b: a @ b, rng.normal(size=shape_a), rng.normal(size=shape_b))


@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 4, 3)])
def test_linear_gate(x_shape):
    rng = np.random.default_rng(1)
    x, u, b = rng.normal(size=x_shape), rng.normal(size=(3, 4)), rng.normal(size=(4,))
    assert_gradients_match(cr.linear, x, u, b)


@pytest.mark.parametrize("x_shape", [(6, 128), (2, 3, 128)])
@pytest.mark.parametrize("out_features", [63, 64])  # 128 x 64 weights: the other product
def test_linear_gate_on_weights_either_side_of_the_product_switch(x_shape, out_features):
    """The closed forms of L = sum(c * (x U + b)): dL/dx = c U^T, dL/dU = x^T c summed
    over the batch axes, dL/db = c summed; for weights just below and at the size where
    the weight gradient's product changes from ndarray.dot to matmul."""
    from chainrule.autodiff.fused import _DOT_LIMIT

    assert 128 * 63 < _DOT_LIMIT <= 128 * 64
    rng = np.random.default_rng(2)
    x = cr.tensor(rng.normal(size=x_shape), requires_grad=True)
    u = cr.tensor(rng.normal(size=(128, out_features)), requires_grad=True)
    b = cr.tensor(rng.normal(size=out_features), requires_grad=True)
    c = rng.normal(size=(*x_shape[:-1], out_features))
    (cr.linear(x, u, b) * c).sum().backward()
    np.testing.assert_allclose(x.grad, np.einsum("...o,io->...i", c, u.data), rtol=1e-12)
    rows, c_rows = x.data.reshape(-1, 128), c.reshape(-1, out_features)
    np.testing.assert_allclose(u.grad, np.einsum("ni,no->io", rows, c_rows), rtol=1e-12)
    np.testing.assert_allclose(b.grad, c_rows.sum(0), rtol=1e-12)


@SETTINGS
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 2**16))
def test_reshape_and_transpose(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    perm = tuple(rng.permutation(len(shape)))
    assert_gradients_match(lambda a: a.reshape(-1) * np.arange(a.size), x)
    weights = rng.normal(size=x.transpose(perm).shape)
    assert_gradients_match(lambda a: a.transpose(perm) * weights, x)
    assert_gradients_match(lambda a: a.T * np.arange(a.size).reshape(x.T.shape), x)


INDICES = [
    (slice(1, 3),),
    (1,),
    (Ellipsis, 0),
    (np.array([0, 2, 2, 1, 2]),),  # repeated indices accumulate
    ((np.array([0, 1, 1]), np.array([2, 0, 0])),),
    (np.array([[True, False, True, False], [False, False, True, True], [True] * 4]),),
    ((slice(None), np.array([3, 3, 0])),),
]


@pytest.mark.parametrize("index", [i[0] for i in INDICES])
def test_getitem_gate(index):
    x = np.random.default_rng(2).normal(size=(3, 4))
    weights = np.random.default_rng(3).normal(size=x[index].shape)
    assert_gradients_match(lambda a: a[index] * weights, x)


FUSABLE = {
    "relu": {},
    "tanh": {},
    "sigmoid": {},
    "leaky_relu": {"slope": 0.1},
    "elu": {"alpha": 0.7},
    "softplus": {},
    "gelu": {},
}


@pytest.mark.parametrize("activation", sorted(FUSABLE))
@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 4, 3)])
def test_linear_activation_gate(activation, x_shape):
    """act(x @ U + b) in one gate; the bias of +-1 keeps x @ U + b away from relu's kink."""
    rng = np.random.default_rng(9)
    x, u = rng.normal(size=x_shape) * 0.2, rng.normal(size=(3, 4)) * 0.2
    b = np.where(rng.random(4) < 0.5, -1.0, 1.0)
    options = FUSABLE[activation]
    assert_gradients_match(
        lambda x, u, b: cr.linear_activation(x, u, b, activation, **options), x, u, b
    )


def test_concatenate_and_stack():
    rng = np.random.default_rng(4)
    a, b, c = rng.normal(size=(2, 3)), rng.normal(size=(4, 3)), rng.normal(size=(2, 3))
    w = rng.normal(size=(6, 3))
    assert_gradients_match(lambda a, b: cr.concatenate([a, b], axis=0) * w, a, b)
    w2 = rng.normal(size=(2, 2, 3))
    assert_gradients_match(lambda a, c: cr.stack([a, c], axis=1) * w2, a, c)


def test_sum_of_squares_gate():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(5,))
    assert_gradients_match(cr.autodiff.functional.sum_of_squares, a, b)
    assert_gradients_match(
        lambda a, b: cr.autodiff.functional.sum_of_squares(a, b, scale=0.3), a, b
    )
    assert cr.autodiff.functional.sum_of_squares(a, scale=0.3).item() == pytest.approx(
        0.3 * (a**2).sum()
    )
    assert cr.autodiff.functional.sum_of_squares(a, b).item() == pytest.approx(
        (a**2).sum() + (b**2).sum()
    )


def test_where_gate():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(1, 4))
    condition = rng.random((3, 4)) < 0.5
    assert_gradients_match(lambda a, b: cr.where(condition, a, b) * 1.5, a, b)


@pytest.mark.parametrize("weighted", [False, True])
def test_fused_loss_gates(weighted):
    from chainrule.nn import functional as F

    rng = np.random.default_rng(6)
    w = rng.uniform(0.5, 2.0, size=5) if weighted else None
    labels = rng.integers(0, 3, size=5)
    soft = rng.dirichlet(np.ones(3), size=5)
    bits = rng.integers(0, 2, size=(5, 2)).astype(float)
    target = rng.normal(size=(5, 2))
    z3, z2 = rng.normal(size=(5, 3)) * 2, rng.normal(size=(5, 2)) * 2
    assert_gradients_match(lambda z: F.cross_entropy(z, labels, w), z3)
    assert_gradients_match(lambda z: F.cross_entropy(z, soft, w), z3)
    assert_gradients_match(lambda z: F.binary_cross_entropy_with_logits(z, bits, w), z2)
    assert_gradients_match(lambda p, y: F.mse(p, y, sample_weight=w), z2, target)
    assert_gradients_match(lambda p: F.mse(p, target, half=True, sample_weight=w), z2)


def test_every_registered_gate_is_checked_here():
    """A gate added to the table without a test here makes this fail."""
    covered = set(BINARY) | set(REDUCTIONS) | {"softmax", "log_softmax", "matmul", "linear"}
    covered |= {"neg", "pow_const", "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu"}
    covered |= {"leaky_relu", "elu", "softplus", "gelu", "clip", "astype"}
    covered |= {"reshape", "transpose", "getitem", "concatenate", "stack", "where"}
    covered |= {"softmax_cross_entropy", "sigmoid_binary_cross_entropy", "squared_error"}
    covered |= {"sum_of_squares"} | {f"linear_{name}" for name in FUSABLE}
    assert set(GATES) <= covered, sorted(set(GATES) - covered)


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize(
    ("shape_a", "shape_b"), [((), (2, 3)), ((3, 1), (1, 4)), ((2, 3), (3,)), ((4, 1, 3), (2, 1))]
)
def test_binary_gate_on_the_named_broadcasting_cases(name, shape_a, shape_b):
    f, domain_a, domain_b = BINARY[name]
    rng = np.random.default_rng(11)
    a, b = domain_a(rng, shape_a), domain_b(rng, shape_b)
    assert_gradients_match(f, a, b)
    out = f(cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True))
    assert out.shape == np.broadcast_shapes(shape_a, shape_b)
