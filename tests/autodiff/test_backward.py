"""backward(): order, accumulation, graph release, no_grad, anomaly detection, errors."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autodiff.gates import GATES, register_gate


def test_a_chain_of_100000_operations_backpropagates_without_recursion_error():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0001
    y.backward()
    # d/dx of x * 1.0001^n is 1.0001^n
    assert x.grad.item() == pytest.approx(1.0001**100_000, rel=1e-8)


def test_topological_order_is_deterministic_and_puts_inputs_first():
    a, b = cr.tensor(1.0, requires_grad=True), cr.tensor(2.0, requires_grad=True)
    c = a * b
    d = c + a
    e = d * c
    order = cr.topological_order(e)
    assert [id(t) for t in order] == [id(t) for t in cr.topological_order(e)]
    assert [t.gate.name for t in order] == ["mul", "add", "mul"]
    position = {id(t): i for i, t in enumerate(order)}
    for t in order:
        for p in t.parents:
            if not p.is_leaf:
                assert position[id(p)] < position[id(t)]
    assert order[-1] is e
    assert all(not t.is_leaf for t in order)


def test_gradients_accumulate_across_backward_calls_and_reset():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])
    cr.zero_grad([x])
    assert x.grad is None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_accumulation_does_not_write_into_a_gradient_shared_with_another_leaf():
    x = cr.tensor([1.0, 1.0], requires_grad=True)
    y = cr.tensor([1.0, 1.0], requires_grad=True)
    (x + y).sum().backward()  # the add gate hands both the same array
    y_grad_before = y.grad.copy()
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    np.testing.assert_array_equal(y.grad, y_grad_before)


def test_second_backward_through_a_released_graph_raises():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.exp(x) * x
    y.backward()
    with pytest.raises(cr.GraphReleasedError, match="mul.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward_with_the_same_result():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.exp(x) * x
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)
    np.testing.assert_allclose(first, np.exp(2.0) * 3.0)


def test_saved_values_are_freed_after_backward():
    x = cr.tensor(np.ones(3), requires_grad=True)
    y = (x * 2.0).sum()
    y.backward()
    assert y.parents == ()


def test_non_scalar_backward_needs_a_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"single-element output.*shape \(2,\)"):
        y.backward()
    y.backward(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [2.0, -2.0])


def test_backward_gradient_of_the_wrong_shape_is_refused():
    y = cr.tensor([1.0, 2.0], requires_grad=True) * 2.0
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))


def test_backward_on_a_constant_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (cr.tensor(1.0) * 2.0).backward()


def test_no_grad_records_nothing_and_enable_grad_restores():
    x = cr.tensor(1.0, requires_grad=True)
    with cr.no_grad():
        y = x * 2.0
        assert not cr.is_grad_enabled()
        with cr.enable_grad():
            z = x * 3.0
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.gate is None and y.parents == ()
    assert z.requires_grad and z.gate.name == "mul"


def test_detach_cuts_the_graph():
    x = cr.tensor(3.0, requires_grad=True)
    y = x * x.detach()
    y.backward()
    assert x.grad.item() == 3.0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_gate_in_forward():
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    with cr.detect_anomaly(), pytest.raises(cr.AnomalyError, match=r"gate 'log'.*forward.*\(2,\)"):
        cr.log(x)
    cr.log(cr.tensor([1.0]))  # outside the context nothing is checked


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_gate_in_backward():
    x = cr.tensor(0.0, requires_grad=True)
    y = cr.sqrt(x)  # finite forward (0), infinite local gradient 1/(2 sqrt 0)
    with cr.detect_anomaly(), pytest.raises(cr.AnomalyError, match="gate 'sqrt'.*backward"):
        y.backward()


def test_a_gate_without_local_gradient_raises_naming_it():
    name = "test_floor_without_gradient"
    gate = register_gate(name, lambda xp, a: (xp.floor(a), None))
    try:
        x = cr.tensor([1.5, 2.5], requires_grad=True)
        y = cr.apply(gate, x)
        np.testing.assert_array_equal(y.data, [1.0, 2.0])
        with pytest.raises(cr.NoGradientError, match=name):
            y.sum().backward()
    finally:
        del GATES[name]
    with pytest.raises(ValueError, match="already registered"):
        register_gate("mul", lambda xp, a: (a, None))


def test_incompatible_shapes_name_the_gate_and_both_shapes():
    a, b = cr.tensor(np.ones((2, 3))), cr.tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"gate 'add'.*\(2, 3\) and \(4, 5\)"):
        a + b
    with pytest.raises(ValueError, match=r"gate 'matmul'.*\(2, 3\) and \(4, 5\)"):
        a @ b


def test_gradient_dtype_follows_the_input_dtype():
    x = cr.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    w = cr.tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    y = cr.softmax(cr.tanh(x @ w) * 2 + 1.5).sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_hook_sees_upstream_and_downstream_gradients_per_node():
    from chainrule.autodiff.backward import backward

    x, y, z = (cr.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    f = (x + y) * z
    seen = []
    backward(f, hook=lambda node, up, down: seen.append((node, up, down)))
    mul_node, up, down = seen[0]
    assert mul_node is f and up.item() == 1.0
    assert [d.item() for d in down] == [-4.0, 3.0]
    (add_step,) = [step for step in seen if step[0].gate is not None and step[0].gate.name == "add"]
    assert add_step[1].item() == -4.0
    assert [d.item() for d in add_step[2]] == [-4.0, -4.0]
    assert len(seen) == 2  # gate nodes only; the leaves receive their grad directly
    assert z.grad.item() == 3.0


def test_backward_from_a_leaf_gives_one():
    x = cr.tensor(5.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0


def test_a_number_seeds_a_single_element_output_and_is_refused_for_more():
    """backward(c) for a one-element output of any rank seeds it with c (as grad_scale
    does); for an output of more elements the error says what to do."""
    x = cr.tensor(np.array([1.5, -2.0]), requires_grad=True)
    (x * x).sum().reshape(1, 1).backward(3.0)
    np.testing.assert_array_equal(x.grad, 3.0 * 2 * x.data)
    with pytest.raises(ValueError, match=r"single-element output; this one has shape \(2,\)"):
        (x * x).backward(3.0)
