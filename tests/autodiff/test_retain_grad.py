"""Tensor.retain_grad(): an intermediate node's gradient, with PyTorch's semantics."""

import numpy as np
import pytest

import chainrule as cr


def notes_example():
    """The notes' q = x + y, f = q z at x = -2, y = 5, z = -4."""
    x, y, z = (cr.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    q = x + y
    return x, y, z, q, q * z


def test_an_intermediate_node_has_no_gradient_by_default():
    *_, q, f = notes_example()
    f.backward()
    assert q.grad is None and not q.retains_grad


def test_a_retained_node_receives_its_closed_form_gradient():
    _, _, z, q, f = notes_example()
    q.retain_grad()
    f.backward()
    assert q.retains_grad
    assert q.grad == z.data == -4.0  # df/dq = z
    assert z.grad == q.data == 3.0  # leaves as before


def test_the_output_itself_can_retain_its_seed():
    *_, f = notes_example()
    f.retain_grad()
    f.backward()
    assert f.grad == 1.0


def test_a_retained_node_used_twice_gets_the_sum():
    """copy adds: s = x * x, f = s + s * s; df/ds = 1 + 2 s."""
    x = cr.tensor(3.0, requires_grad=True)
    s = x * x
    f = s + s * s
    s.retain_grad()
    f.backward()
    assert s.grad == 1 + 2 * 9.0


def test_retained_gradients_accumulate_across_backward_calls_like_a_leaf():
    x, _, z, q, f = notes_example()
    q.retain_grad()
    f.backward(retain_graph=True)
    first = q.grad
    f.backward()
    assert q.grad == 2 * z.data and x.grad == 2 * z.data
    assert first == z.data  # the array handed out first was not written over


def test_retain_grad_on_a_leaf_is_a_no_op():
    x, _, _, _, f = notes_example()
    x.retain_grad()
    assert not x.retains_grad
    f.backward()
    assert x.grad == -4.0


def test_retain_grad_without_requires_grad_is_refused():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor(1.0).retain_grad()


def test_matrix_nodes_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X, U1, U2 = rng.normal(size=(2, 3)), rng.normal(size=(3, 5)), rng.normal(size=(5, 4))

    U1c, U2c = cr.tensor(U1, requires_grad=True), cr.tensor(U2, requires_grad=True)
    h = cr.tanh(cr.tensor(X) @ U1c)
    out = h @ U2c
    loss = (out * out).sum() + h.sum()
    h.retain_grad()
    out.retain_grad()
    loss.backward(retain_graph=True)
    loss.backward()

    U1t, U2t = (torch.tensor(a, requires_grad=True) for a in (U1, U2))
    ht = torch.tanh(torch.tensor(X) @ U1t)
    outt = ht @ U2t
    losst = (outt * outt).sum() + ht.sum()
    ht.retain_grad()
    outt.retain_grad()
    losst.backward(retain_graph=True)
    losst.backward()

    np.testing.assert_allclose(h.grad, ht.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(out.grad, outt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(U1c.grad, U1t.grad.numpy(), rtol=1e-12)


def test_a_node_that_is_gone_is_forgotten():
    from chainrule.autodiff import backward

    *_, q, _f = notes_example()
    q.retain_grad()
    assert id(q) in backward._retaining
    key = id(q)
    del q, _f
    assert key not in backward._retaining
