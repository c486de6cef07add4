"""Every gate knows its local gradient as the notes write it, and the trace shows it: the
formula, the formula with the numbers put in, and upstream x local = downstream, in the
text, the JSON and the picture; the copy gate's sums written out; node names that cannot
be read as the user's variables.  The numbers are checked against closed forms."""

import json
import math
import re

import pytest

import chainrule  # noqa: F401 - registers every gate
from chainrule.autodiff.gates import GATES
from chainrule.explain import build, parse, trace
from chainrule.explain.expressions import BINARY, UNARY
from chainrule.explain.formulas import short

NEURON = "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))"
NEURON_AT = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
S = 1 / (1 + math.exp(-1.0))  # the neuron's output: w0 x0 + w1 x1 + w2 = 1


def explainable_gates() -> set[str]:
    """The gates an expression can make: every function and operator of the language."""
    texts = [f"{name}(x)" for name in UNARY] + [f"{name}(x, y)" for name in BINARY]
    texts += ["x + y", "x - y", "x * y", "x / y", "x ** y", "x ** 3", "-x"]
    names = set()
    for text in texts:
        for mode in ("as-typed", "compact", "elementary"):
            graph = build(parse(text), {"x": 0.7, "y": 0.4} if "y" in text else {"x": 0.7}, mode)
            names |= {tensor.gate.name for tensor, _, _ in graph.nodes}
    return names


def test_every_gate_in_the_table_has_a_local_gradient_formula_per_input():
    missing = [name for name, gate in GATES.items() if gate.local_gradient is None]
    assert not missing, f"gates without a local-gradient formula: {missing}"
    for name, gate in GATES.items():
        gradient = gate.local_gradient
        letters = {*gradient.inputs, gradient.output}
        for text in gradient.formulas:
            used = set(re.findall(r"\{(\w+)\}", text))
            assert used <= letters, f"{name}: {text} uses {used - letters}"


def test_every_gate_explain_can_make_has_one_formula_for_each_input():
    names = explainable_gates()
    assert {"add", "mul", "div", "exp", "sigmoid", "maximum", "relu", "pow_const"} <= names
    for name in names:
        gradient = GATES[name].local_gradient
        assert gradient is not None, name
        arity = {"pow_const": 1}.get(name, len(gradient.inputs))
        assert len(gradient.formulas) >= arity, name


@pytest.mark.parametrize(
    ("gate", "rule"),
    [
        ("sigmoid", "(1 - s) s"),
        ("div", "-x/y^2"),
        ("mul", "y"),
        ("add", "1"),
        ("exp", "exp(x)"),
        ("tanh", "1 - t^2"),
        ("log", "1/x"),
    ],
)
def test_the_notes_formulas_are_in_the_gate_table(gate, rule):
    from chainrule.explain.formulas import rule as rule_of

    gradient = GATES[gate].local_gradient
    position = 1 if gate == "div" else 0
    assert rule_of(gradient, position) == rule
    if gate in ("maximum", "mul"):
        assert gradient.words


def test_sigmoid_neuron_compact_shows_the_notes_local_gradient():
    t = trace(NEURON, NEURON_AT, "compact")
    (entry,) = t.steps[-1].chain
    assert entry.rule == "(1 - s) s"
    assert entry.formula == "(1 - f) f"
    assert entry.substituted == f"(1 - {S:.4f}) x {S:.4f}" == "(1 - 0.7311) x 0.7311"
    assert short(entry.local) == f"{(1 - S) * S:.4f}" == "0.1966"
    assert entry.local == pytest.approx((1 - S) * S, rel=1e-12)  # full precision kept
    assert entry.product == "1 x 0.1966 = 0.1966"


def test_cli_text_shows_formula_numbers_and_product(run_cli):
    out = run_cli("explain", NEURON, "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3", "--gates", "compact")
    assert "df/dt = (1 - f) f = (1 - 0.7311) x 0.7311 = 0.1966" in out.stdout
    assert "1 x 0.1966 = 0.1966" in out.stdout
    out = run_cli("explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4").stdout
    assert "df/dq = z = -4" in out and "1 x (-4) = -4" in out
    assert "dq/dx = 1" in out and "-4 x 1 = -4" in out


def test_elementary_neuron_reciprocal_and_exp_gates_show_the_notes_formulas():
    t = trace(NEURON, NEURON_AT, "elementary")
    by_gate = {step.gate: step for step in t.steps}
    a = 1 + math.exp(-1.0)  # the denominator
    (reciprocal,) = by_gate["div"].chain
    assert reciprocal.rule == "-x/y^2"
    assert reciprocal.substituted == f"-1/{a:.4f}^2"
    assert short(reciprocal.local) == f"{-1 / a**2:.4f}" == "-0.5344"
    (exponential,) = by_gate["exp"].chain
    assert exponential.substituted == "exp(-1)" and short(exponential.local) == "0.3679"
    assert (
        exponential.product == f"{-1 / a**2:.4f} x {math.exp(-1):.4f} = {-math.exp(-1) / a**2:.4f}"
    )


def test_every_product_is_upstream_times_local():
    for gates in ("compact", "elementary"):
        for step in trace(NEURON, NEURON_AT, gates).steps:
            for entry in step.chain:
                assert entry.downstream == pytest.approx(entry.upstream * entry.local, rel=1e-12)
                left, down = entry.product.split(" = ")
                up, local = left.split(" x ")
                assert float(up) == pytest.approx(entry.upstream, abs=5e-5)
                assert float(local.strip("()")) == pytest.approx(entry.local, abs=5e-5)
                assert float(down) == pytest.approx(entry.downstream, abs=5e-5)


def test_json_carries_formulas_and_full_precision(run_cli):
    out = run_cli(
        "explain", NEURON, "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3", "--gates", "compact", "--json"
    )
    document = json.loads(out.stdout)
    sigmoid = document["steps"][-1]
    (entry,) = sigmoid["chain"]
    assert entry["rule"] == "(1 - s) s" and entry["substituted"] == "(1 - 0.7311) x 0.7311"
    assert entry["local"] == pytest.approx((1 - S) * S, rel=1e-12)
    assert entry["local"] != round(entry["local"], 4)  # not the rounded text
    assert entry["product"] == "1 x 0.1966 = 0.1966"
    assert sigmoid["value"] == pytest.approx(S, rel=1e-12)
    assert document["output_name"] == "f"


def test_copy_adds_written_out_as_a_sum():
    t = trace("x*x + x", {"x": 3.0})
    total = t.sums["x"]
    assert total.terms == [3.0, 3.0, 1.0]  # d(x*x)/dx = x twice, d(q + x)/dx = 1
    assert total.text == "3 + 3 + 1 = 7"
    assert t.gradients["x"] == 2 * 3.0 + 1  # closed form: d(x^2 + x)/dx = 2x + 1


def test_cli_text_and_json_show_the_copy_sum(run_cli):
    out = run_cli("explain", "x*x + x", "--at", "x=3").stdout
    assert "3 + 3 + 1 = 7" in out
    document = json.loads(run_cli("explain", "x*x + x", "--at", "x=3", "--json").stdout)
    assert document["sums"]["x"]["text"] == "3 + 3 + 1 = 7"
    assert document["sums"]["x"]["total"] == 7.0


def test_a_negative_term_in_a_sum_is_subtracted():
    t = trace("x*y - x", {"x": 2.0, "y": -2.0})
    assert t.sums["x"].text == "-2 - 1 = -3"  # closed form: y - 1


@pytest.mark.parametrize("gates", ["as-typed", "compact", "elementary"])
def test_node_names_never_look_like_a_variable(gates):
    t = trace(NEURON, NEURON_AT, gates)
    for step in t.steps:
        assert not any(v == step.name or v.startswith(step.name) for v in NEURON_AT), step.name
    assert "w" not in [step.name for step in t.steps]


def test_the_output_name_may_be_given():
    t = trace("loss = (x - y) ** 2", {"x": 3.0, "y": 1.0})
    assert t.output_name == "loss" and t.steps[-1].name == "loss"
    assert t.gradients == {"x": 4.0, "y": -4.0}  # closed form: 2 (x - y), -2 (x - y)
    assert trace("f = x + y", {"x": 1.0, "y": 2.0}).output == 3.0
