"""numerical_grad and gradcheck: right on known derivatives, and they catch a wrong vjp."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autodiff.gates import GATES, register_gate


def test_numerical_grad_of_known_functions():
    (g,) = cr.numerical_grad(lambda x: (x**3).sum(), np.array([1.0, -2.0, 0.5]))
    np.testing.assert_allclose(g, 3 * np.array([1.0, 4.0, 0.25]), rtol=1e-8)
    gx, gy = cr.numerical_grad(lambda x, y: (x * y).sum(), np.array([2.0]), np.array([-3.0]))
    assert gx.item() == pytest.approx(-3.0) and gy.item() == pytest.approx(2.0)


def test_numerical_grad_of_a_non_scalar_output_needs_a_direction():
    with pytest.raises(ValueError, match="scalar output"):
        cr.numerical_grad(lambda x: x * 2.0, np.ones(3))
    (g,) = cr.numerical_grad(lambda x: x * 2.0, np.ones(3), grad_output=np.array([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(g, [2.0, 0.0, -2.0])


def test_gradcheck_reports_per_input_and_passes_on_correct_gates():
    report = cr.gradcheck(lambda a, b: cr.tanh(a @ b), np.ones((2, 3)) * 0.1, np.ones((3, 4)) * 0.2)
    assert report.passed and len(report.inputs) == 2
    assert report.inputs[1].shape == (3, 4)
    assert report.inputs[0].max_abs_error < 1e-8
    assert "ok" in str(report)


def test_gradcheck_catches_a_wrong_local_gradient_and_raises_with_the_report():
    name = "test_wrong_square"
    gate = register_gate(name, lambda xp, a: (a * a, a), lambda xp, g, a, needs: (g * 3 * a,))
    try:
        f = lambda x: cr.apply(gate, x).sum()
        report = cr.gradcheck(f, np.array([1.0, 2.0]))
        assert not report.passed
        assert report.inputs[0].max_abs_error == pytest.approx(2.0, rel=1e-5)  # 6x - 4x at x=2
        with pytest.raises(cr.GradcheckError, match="FAILED"):
            cr.gradcheck(f, np.array([1.0, 2.0]), raise_on_failure=True)
    finally:
        del GATES[name]
