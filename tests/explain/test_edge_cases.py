"""The edge cases the notes call out: points where a gate is not differentiable (the
subgradient taken, said in words, and --compare explaining the disagreement), forward
and central differences, expressions not defined at the point (in words, exit 1, no NumPy
warning), and a --compare table that fits 80 columns without losing a digit."""

import json
import math

import pytest

from chainrule.explain import compare, trace
from chainrule.explain.tracing import DomainError

NEURON = "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))"
NEURON_ARGS = ("--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3")


def test_a_tie_of_max_is_reported_with_the_subgradient_taken():
    t = trace("max(x, y) * z", {"x": 3.0, "y": 3.0, "z": 2.0})
    (note,) = t.nondifferentiable
    assert "tie" in note and "x = y = 3" in note and "first input, x" in note
    assert t.gradients == {"x": 2.0, "y": 0.0, "z": 3.0}


@pytest.mark.parametrize(("text", "left"), [("relu(x) * y", "slope 0"), ("abs(x) * y", "slope -1")])
def test_relu_and_abs_at_their_kink_are_reported(text, left):
    t = trace(text, {"x": 0.0, "y": 2.0})
    (note,) = t.nondifferentiable
    assert "at x = 0" in note and left in note and "subgradient 0" in note
    assert trace(text, {"x": 0.5, "y": 2.0}).nondifferentiable == []


def test_no_kink_away_from_ties():
    assert trace("max(x, y) * z", {"x": 3.0, "y": 2.0, "z": 2.0}).nondifferentiable == []


def test_forward_and_central_differences_at_a_tie_and_why_they_differ():
    at = {"x": 3.0, "y": 3.0, "z": 2.0}
    # at the tie, f = max(x, y) z: to the right of x the slope is z, to the left 0
    central = {r.variable: r for r in compare("max(x, y) * z", at, numerical="central").rows}
    assert central["x"].numerical == pytest.approx(1.0, abs=1e-6)  # (z + 0) / 2
    assert central["y"].numerical == pytest.approx(1.0, abs=1e-6)
    forward = {r.variable: r for r in compare("max(x, y) * z", at, numerical="forward").rows}
    assert forward["x"].numerical == pytest.approx(2.0, abs=1e-5)  # the right slope, z
    assert forward["y"].numerical == pytest.approx(2.0, abs=1e-5)
    assert forward["x"].note is None  # the subgradient agrees with the right slope
    assert "not an error" in forward["y"].note and "right" in forward["y"].note
    assert "not an error" in central["x"].note and "mean of the slopes" in central["x"].note
    assert central["z"].note is None


def test_forward_differences_are_less_accurate_than_central_on_a_smooth_function():
    at = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
    s = 1 / (1 + math.exp(-1.0))
    exact = {"w0": -1 * s * (1 - s), "x1": -3 * s * (1 - s)}  # closed form: x0 s', w1 s'
    forward = {r.variable: r for r in compare(NEURON, at, numerical="forward").rows}
    central = {r.variable: r for r in compare(NEURON, at, numerical="central").rows}
    for name, value in exact.items():
        assert forward[name].numerical == pytest.approx(value, abs=1e-5)
        assert central[name].numerical == pytest.approx(value, abs=1e-9)
        assert abs(central[name].numerical - value) < abs(forward[name].numerical - value)


def test_cli_names_the_numerical_method(run_cli):
    out = run_cli("explain", "x * y", "--at", "x=2,y=3", "--compare", "--numerical", "forward")
    assert "forward differences (f(x + h) - f(x))/h" in out.stdout
    out = run_cli("explain", "x * y", "--at", "x=2,y=3", "--compare")
    assert "central differences (f(x + h) - f(x - h))/(2h)" in out.stdout
    document = json.loads(
        run_cli("explain", "x * y", "--at", "x=2,y=3", "--compare", "--json").stdout
    )
    assert document["comparison"]["numerical_method"] == "central"


def test_cli_compare_at_a_tie_explains_instead_of_a_bare_error(run_cli):
    out = run_cli("explain", "max(x, y) * z", "--at", "x=3,y=3,z=2", "--compare").stdout
    assert "not an error" in out and "not differentiable" in out and "tie" in out


def test_compare_table_fits_80_columns_without_losing_digits(run_cli):
    result = run_cli(*("explain", NEURON, *NEURON_ARGS, "--compare"), env={"COLUMNS": "80"})
    out = result.stdout
    assert "…" not in out and "..." not in out
    comparison = compare(NEURON, {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3})
    table = out[out.index("three ways") : out.index("symbolic derivatives")]
    assert max(len(line) for line in table.splitlines()) <= 80
    for row in comparison.rows:
        assert f"{row.autodiff:.10g}" in table and f"{row.numerical:.10g}" in table
        assert f"d/d{row.variable} = {row.symbolic}" in out  # the whole expression, one line


@pytest.mark.parametrize(
    ("expression", "at", "words"),
    [
        ("log(x)", "x=-1", "log(x) is not defined at x = -1: log takes positive numbers"),
        ("log(x)", "x=0", "log(0) is minus infinity"),
        ("1/x", "x=0", "1 / x is not defined at x = 0: division by zero"),
        ("sqrt(x)", "x=0", "no finite derivative at x = 0"),
        ("sqrt(x)", "x=-4", "square root of a negative number"),
        ("exp(x)", "x=1000", "overflows"),
        ("log(x - 3)", "x=1", "at q = x - 3 = -2"),
    ],
)
@pytest.mark.parametrize("extra", [(), ("--compare",), ("--json",)])
def test_domain_errors_in_words_exit_1_and_no_numpy_warning(
    run_cli_raw, expression, at, words, extra
):
    result = run_cli_raw("explain", expression, "--at", at, *extra, python_options=("-W", "error"))
    assert result.returncode == 1, result.stdout
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), result.stderr
    assert words in lines[0]
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr


def test_domain_error_from_python_is_a_value_error_naming_the_gate():
    with pytest.raises(DomainError, match=r"log\(x\) is not defined at x = -1"):
        trace("log(x)", {"x": -1.0})


@pytest.mark.parametrize(
    "arguments",
    [
        ("relu(x) * y", "--at", "x=0,y=2", "--compare"),
        ("max(x, y) * z", "--at", "x=3,y=3,z=2", "--compare", "--numerical", "forward"),
        ("sqrt(x) + log(y)", "--at", "x=1e-300,y=1e-300", "--compare"),
    ],
)
def test_no_numpy_warning_at_the_edges(run_cli_raw, arguments):
    result = run_cli_raw("explain", *arguments, python_options=("-W", "error"))
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0
