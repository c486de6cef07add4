"""The trace reads as the slides do, and names the patterns of gradient flow."""

import json

import numpy as np
import pytest

from chainrule.explain import parse, pattern_notes, trace
from chainrule.lecture import sigmoid_neuron_example

NEURON = "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))"
NEURON_AT = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def test_add_mul_example_as_on_the_slides():
    t = trace("(x + y) * z", {"x": -2, "y": 5, "z": -4})
    q, f = t.steps
    assert (q.name, q.formula, q.value) == ("q", "x + y", 3.0)
    assert (f.name, f.formula, f.value) == ("f", "q * z", -12.0)
    assert t.gradients == {"x": -4.0, "y": -4.0, "z": 3.0}
    # backward: f receives 1, mul swaps (local df/dq = z = -4, df/dz = q = 3)
    assert f.upstream == 1.0 and f.local == [-4.0, 3.0] and f.downstream == [-4.0, 3.0]
    # q receives -4, add distributes it: local 1, 1
    assert q.upstream == -4.0 and q.local == [1.0, 1.0] and q.downstream == [-4.0, -4.0]
    assert f.pattern == "mul swaps" and q.pattern == "add distributes"


@pytest.mark.parametrize("gates", ["as-typed", "compact", "elementary"])
def test_sigmoid_neuron_in_every_representation_gives_the_same_gradients(gates):
    t = trace(NEURON, NEURON_AT, gates)
    expected = sigmoid_neuron_example((2.0, -3.0, -3.0), (-1.0, -2.0)).gradients
    for name, value in t.gradients.items():
        assert value == pytest.approx(expected[f"df/d{name}"], rel=1e-12)
    assert t.output == pytest.approx(0.7310585786, rel=1e-9)
    gate_names = [s.gate for s in t.steps]
    if gates == "compact":
        assert gate_names[-1] == "sigmoid" and len(t.steps) == 5
        assert t.steps[-1].local[0] == pytest.approx((1 - t.output) * t.output)  # (1 - s) s
    else:
        assert gate_names[-4:] == ["neg", "exp", "add", "div"] and len(t.steps) == 8
        assert [s.symbol for s in t.steps[-4:]] == ["-x", "exp", "+1", "1/x"]


def test_every_step_is_upstream_times_local():
    t = trace(NEURON, NEURON_AT, "elementary")
    for step in t.steps:
        for local, down in zip(step.local, step.downstream, strict=True):
            if local is not None:
                assert down == pytest.approx(step.upstream * local, rel=1e-12)


def test_copy_adds_and_max_routes_are_named():
    t = trace("x * y + max(x, z)", {"x": 3.0, "y": 2.0, "z": -1.0})
    assert t.copies == {"x": 2}
    assert t.gradients["x"] == pytest.approx(2.0 + 1.0)  # y from the mul, 1 routed by the max
    assert t.gradients["z"] == 0.0
    notes = " ".join(pattern_notes(t))
    assert "copy adds" in notes and "max routes, all of 1 goes to x" in notes


def test_cli_json_trace(run_cli):
    result = run_cli("explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--json")
    document = json.loads(result.stdout)
    assert [s["value"] for s in document["steps"]] == [3.0, -12.0]
    assert document["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}


def test_cli_table_shows_the_slide_numbers(run_cli):
    out = run_cli("explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4").stdout
    assert "q = x + y" in out and "f = q * z" in out
    assert "mul swaps" in out and "add distributes" in out
    assert np.all([fragment in out for fragment in ("-12", "-4", "3")])


def test_cli_refuses_hostile_expressions_with_exit_1(run_cli_raw):
    result = run_cli_raw("explain", "__import__('os').system('touch pwned')", "--at", "x=1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "only the known functions" in result.stderr
    bad_point = run_cli_raw("explain", "x * y", "--at", "x=1,y")
    assert bad_point.returncode == 2


@pytest.mark.parametrize(
    ("expression", "at", "expected"),
    [
        ("x + x**3", {"x": 3.0}, {"x": 1 + 3 * 3.0**2}),
        ("x**2 * y", {"x": 3.0, "y": 2.0}, {"x": 2 * 3.0 * 2.0, "y": 3.0**2}),
        ("x**3 + y**2 + x*y", {"x": 2.0, "y": -1.0}, {"x": 3 * 4.0 - 1.0, "y": -2.0 + 2.0}),
    ],
)
def test_a_power_by_a_constant_beside_other_gates_is_traced(expression, at, expected):
    """x ** 3 takes its 3 as a number: the constant's tensor must not be freed while the
    graph is built (its id, reused by the next node, hid that node: a KeyError)."""
    result = trace(parse(expression), at, "as-typed")
    for name, value in expected.items():
        assert result.gradients[name] == pytest.approx(value, rel=1e-12)
