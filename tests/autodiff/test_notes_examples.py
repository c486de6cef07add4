"""The notes' worked examples, exactly, and the gate patterns of "patterns in gradient flow"."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.lecture import add_mul_example, sigmoid_neuron_example


def test_add_mul_example_reads_as_on_the_slides():
    x, y, z = (cr.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    q = x + y
    f = q * z
    f.backward()
    assert q.item() == 3.0
    assert f.item() == -12.0
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4.0, -4.0, 3.0)
    # upstream x local: df/dx = df/dq * dq/dx = z * 1
    assert x.grad.item() == z.item() * 1.0


def test_lecture_module_reports_the_same_numbers():
    example = add_mul_example()
    assert example.values == {"q = x + y": 3.0, "f = q z": -12.0}
    assert example.gradients == {"df/dx": -4.0, "df/dy": -4.0, "df/dz": 3.0}


def sigmoid_neuron_closed_form(w, x):
    """Manual derivation: f = s(w.x~), df/dw_i = (1 - s) s x~_i, df/dx_i = (1 - s) s w_i."""
    dot = w[0] * x[0] + w[1] * x[1] + w[2]
    s = 1 / (1 + np.exp(-dot))
    local = (1 - s) * s
    return s, {
        "df/dw0": local * x[0],
        "df/dw1": local * x[1],
        "df/dw2": local,
        "df/dx0": local * w[0],
        "df/dx1": local * w[1],
    }


@pytest.mark.parametrize("compact", [True, False])
def test_sigmoid_neuron_matches_the_closed_form(compact):
    w, x = (2.0, -3.0, -3.0), (-1.0, -2.0)
    example = sigmoid_neuron_example(w, x, compact=compact)
    s, expected = sigmoid_neuron_closed_form(w, x)
    assert example.values["f"] == pytest.approx(s, rel=1e-12)
    assert example.values["f"] == pytest.approx(0.7310585786, rel=1e-9)
    for name, value in expected.items():
        assert example.gradients[name] == pytest.approx(value, rel=1e-12, abs=1e-15)
    # the slide's rounded figures
    assert round(example.gradients["df/dw0"], 2) == -0.20
    assert round(example.gradients["df/dx0"], 2) == 0.39


def test_sigmoid_gate_equals_its_elementary_decomposition():
    x = np.linspace(-30, 30, 61)
    a = cr.tensor(x, requires_grad=True)
    b = cr.tensor(x, requires_grad=True)
    cr.sigmoid(a).sum().backward()
    cr.sigmoid_elementary(b).sum().backward()
    # (1 - s) s cancels where s -> 1: its error is absolute, ~1e-16, as in any float64 use
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=1e-15)
    closed_form = np.exp(-x) / (1 + np.exp(-x)) ** 2
    np.testing.assert_allclose(a.grad, closed_form, rtol=1e-12, atol=1e-15)


def test_add_gate_distributes():
    a, b = cr.tensor(3.0, requires_grad=True), cr.tensor(-7.0, requires_grad=True)
    (a + b).backward(np.array(2.5))
    assert a.grad.item() == b.grad.item() == 2.5


def test_mul_gate_swaps():
    a, b = cr.tensor(3.0, requires_grad=True), cr.tensor(-7.0, requires_grad=True)
    (a * b).backward(np.array(2.0))
    assert a.grad.item() == 2.0 * -7.0
    assert b.grad.item() == 2.0 * 3.0


def test_copy_gate_adds():
    """A value used twice receives the sum of the two gradients."""
    x = cr.tensor(3.0, requires_grad=True)
    y = x * 2.0 + x * 5.0  # x feeds two gates
    y.backward()
    assert x.grad.item() == 7.0
    z = cr.tensor(4.0, requires_grad=True)
    (z * z).backward()  # both inputs of one gate
    assert z.grad.item() == 8.0


def test_max_gate_routes():
    a, b = cr.tensor(4.0, requires_grad=True), cr.tensor(-1.0, requires_grad=True)
    cr.maximum(a, b).backward(np.array(3.0))
    assert a.grad.item() == 3.0
    assert b.grad.item() == 0.0


def test_max_gate_routes_ties_to_the_first_input_and_the_first_element():
    a, b = cr.tensor(2.0, requires_grad=True), cr.tensor(2.0, requires_grad=True)
    cr.maximum(a, b).backward()
    assert (a.grad.item(), b.grad.item()) == (1.0, 0.0)
    v = cr.tensor([1.0, 5.0, 5.0, 0.0], requires_grad=True)
    v.max().backward()
    np.testing.assert_array_equal(v.grad, [0.0, 1.0, 0.0, 0.0])
    m = cr.tensor([[1.0, 1.0], [3.0, 2.0]], requires_grad=True)
    m.max(axis=1).backward(np.array([10.0, 20.0]))
    np.testing.assert_array_equal(m.grad, [[10.0, 0.0], [20.0, 0.0]])
