"""The Tensor's API: construction, dtypes, operators with numbers and arrays, indexing."""

import numpy as np
import pytest

import chainrule as cr


def test_construction_and_properties():
    t = cr.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    assert t.shape == (1, 3) and t.ndim == 2 and t.dtype == np.float64 and t.size == 3
    assert t.grad is None and t.requires_grad and t.is_leaf
    assert cr.tensor(2.5).item() == 2.5 and cr.tensor(2.5).shape == ()
    assert cr.tensor([1, 2], dtype="float32").dtype == np.float32
    assert t.numpy() is t.data


def test_requires_grad_on_integer_or_boolean_data_is_refused():
    with pytest.raises(TypeError, match="floating-point.*int64"):
        cr.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="bool"):
        cr.tensor([True], requires_grad=True)


def test_object_data_is_refused():
    with pytest.raises(TypeError, match="numbers"):
        cr.tensor(["a", None])
    with pytest.raises((TypeError, ValueError)):
        cr.tensor([[1.0], [1.0, 2.0]])  # ragged


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (lambda t: t + 1, [3.0, 5.0]),
        (lambda t: 1 + t, [3.0, 5.0]),
        (lambda t: t - 1, [1.0, 3.0]),
        (lambda t: 1 - t, [-1.0, -3.0]),
        (lambda t: t * 2, [4.0, 8.0]),
        (lambda t: 2 * t, [4.0, 8.0]),
        (lambda t: t / 2, [1.0, 2.0]),
        (lambda t: 8 / t, [4.0, 2.0]),
        (lambda t: t**2, [4.0, 16.0]),
        (lambda t: 2**t, [4.0, 16.0]),
        (lambda t: t ** cr.tensor([1.0, 0.5]), [2.0, 2.0]),
        (lambda t: -t, [-2.0, -4.0]),
        (lambda t: np.array([1.0, 1.0]) + t, [3.0, 5.0]),
        (lambda t: np.array([10.0, 10.0]) - t, [8.0, 6.0]),
        (lambda t: t * np.array([1.0, 0.5]), [2.0, 2.0]),
        (lambda t: abs(-t), [2.0, 4.0]),
    ],
)
def test_operators_mix_with_numbers_and_arrays_on_either_side(expression, expected):
    result = expression(cr.tensor([2.0, 4.0]))
    assert isinstance(result, cr.Tensor)
    np.testing.assert_allclose(result.data, expected)


def test_matmul_with_arrays_on_either_side():
    m = np.arange(6.0).reshape(2, 3)
    t = cr.tensor(np.ones((3, 2)))
    np.testing.assert_allclose((m @ t).data, m @ np.ones((3, 2)))
    np.testing.assert_allclose((t @ np.ones(2)).data, np.full(3, 2.0))


def test_python_numbers_keep_float32():
    t = cr.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    for y in (t + 1.5, 2.0 * t, t / 3, 1 - t, t**2, cr.maximum(t, 0.5)):
        assert y.dtype == np.float32


def test_comparisons_give_arrays_without_gradient():
    t = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = t > 1.5
    assert isinstance(mask, np.ndarray) and mask.dtype == bool
    np.testing.assert_array_equal(mask, [False, True, True])
    np.testing.assert_array_equal(t == cr.tensor([1.0, 0.0, 3.0]), [True, False, True])
    np.testing.assert_array_equal(t <= 2.0, [True, True, False])


def test_reductions_and_shape_methods_values():
    x = np.arange(24.0).reshape(2, 3, 4)
    t = cr.tensor(x)
    np.testing.assert_array_equal(t.sum(axis=1).data, x.sum(axis=1))
    np.testing.assert_array_equal(
        t.mean(axis=(0, 2), keepdims=True).data, x.mean(axis=(0, 2), keepdims=True)
    )
    np.testing.assert_array_equal(t.max(axis=-1).data, x.max(axis=-1))
    np.testing.assert_array_equal(t.min().data, x.min())
    np.testing.assert_array_equal(t.reshape(4, 6).data, x.reshape(4, 6))
    np.testing.assert_array_equal(t.reshape((6, 4)).data, x.reshape(6, 4))
    np.testing.assert_array_equal(t.T.data, x.T)
    np.testing.assert_array_equal(t.transpose(1, 0, 2).data, x.transpose(1, 0, 2))


def test_repeated_integer_indices_accumulate_their_gradient():
    t = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    t[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(t.grad, [3.0, 0.0, 1.0])


def test_boolean_mask_and_slice_indexing():
    t = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    picked = t[t > 2.5]
    np.testing.assert_array_equal(picked.data, [3.0, 4.0, 5.0])
    (picked.sum() + t[:, 1].sum()).backward()
    np.testing.assert_array_equal(t.grad, [[0.0, 1.0, 0.0], [1.0, 2.0, 1.0]])


def test_grad_is_an_array_of_the_data_shape_even_for_scalars():
    x = cr.tensor(3.0, requires_grad=True)
    (x * x).backward()
    assert isinstance(x.grad, np.ndarray) and x.grad.shape == ()
    b = cr.tensor([[1.0, 2.0]], requires_grad=True)  # broadcast against (3, 2)
    (b * np.ones((3, 2))).sum().backward()
    assert b.grad.shape == (1, 2)
    np.testing.assert_array_equal(b.grad, [[3.0, 3.0]])


def test_repr_names_the_gate():
    x = cr.tensor(1.0, requires_grad=True)
    assert "gate=mul" in repr(x * 2)
    assert "requires_grad=True" in repr(x)


def test_array_module_uses_the_arrays_own_namespace():
    """The door left open for CuPy: a NumPy-like array is dispatched to its own module."""
    from chainrule.autodiff.arrays import array_module

    class FakeNamespace:
        pass

    class FakeArray:
        def __array_namespace__(self):
            return FakeNamespace

    assert array_module(np.ones(2)) is np
    assert array_module(np.float32(1)) is np
    assert array_module(FakeArray()) is FakeNamespace


def test_a_shallow_copy_shares_the_gradient_so_neither_owns_it():
    """copy.copy shares grad's array between two tensors: an optimizer may then write
    over neither (the engine's ownership, see take_grads)."""
    import copy

    from chainrule.autodiff import take_grads

    p = cr.tensor(np.ones(3), requires_grad=True)
    (p * 2.0).sum().backward()
    q = copy.copy(p)
    assert q.data is p.data and q._grad is p._grad and q.requires_grad
    (grad_p, owned_p), (grad_q, owned_q) = take_grads([p, q])
    assert grad_p is grad_q and not owned_p and not owned_q
    r = cr.tensor(np.ones(3), requires_grad=True)
    (r * 2.0).sum().backward()
    assert take_grads([r])[0][1]  # without the copy, the engine's own
