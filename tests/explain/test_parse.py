"""The expression parser accepts the notes' expressions and refuses everything else,
pointing at the offending part; it never evaluates the text."""

import pytest

from chainrule.explain import ExpressionError, build, parse

HOSTILE = [
    ("__import__('os').system('id')", "only the known functions can be called"),
    ("__import__('os')", "unknown function '__import__'"),
    ("_secret * 2", "underscore"),
    ("().__class__", "attribute access"),
    ("x.__dict__", "attribute access"),
    ("open('f')", "unknown function 'open'"),
    ("9**9**9**9", "nested powers"),
    ("x" * 100_000, "characters long"),
    ("(" * 300 + "x" + ")" * 300, "nested"),  # 200 redundant parentheses are harmless
    ("-" * 500 + "x", "nested"),
    ("lambda: 1", "lambda"),
    ("[x for x in y]", "comprehension"),
    ("'abc'", "only numbers"),
    ("x[0]", "subscript"),
    ("exp(x, y)", "takes 1 argument"),
    ("exp(x=1)", "plain arguments"),
    ("x if y else z", "conditional"),
    ("x < y", "comparison"),
    ("x and y", "boolean"),
    ("exp", "is a function"),
    ("x; y", "not a valid expression"),
    ("x = 1", "not a valid expression"),
    ("1e400 * x", "finite"),
    ("(x := 2)", "assignment"),
    ("x @ y", "operator MatMult"),
    ("x // y", "operator FloorDiv"),
    ("not x", "only unary minus"),
    ("f'{x}'", "string"),
    ("exp(*x)", "plain arguments"),
    ("", "empty"),
    ("x\n+ y", "one line"),
]


@pytest.mark.parametrize(
    ("text", "message"), HOSTILE, ids=[h[1] + str(i) for i, h in enumerate(HOSTILE)]
)
def test_hostile_and_invalid_inputs_are_refused(text, message):
    with pytest.raises(ExpressionError, match=message):
        parse(text)


def test_the_message_points_at_the_offending_part():
    with pytest.raises(ExpressionError) as error:
        parse("x + y.real")
    lines = str(error.value).splitlines()
    assert lines[1].strip() == "x + y.real"
    assert lines[2].index("^") == lines[1].index("y.real")


def test_the_notes_expressions_are_accepted_with_their_variables():
    assert parse("(x + y) * z").variables == ["x", "y", "z"]
    neuron = parse("1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))")
    assert neuron.variables == ["w0", "x0", "w1", "x1", "w2"]
    for text in (
        "max(x, y) * 2",
        "sqrt(abs(x)) + log(y)",
        "tanh(x) ** 2",
        "relu(x) - softplus(-y)",
        "min(x, 3)",
    ):
        parse(text)


def test_building_evaluates_with_chainrule_gates():
    graph = build(parse("max(x, y) * sigmoid(z)"), {"x": 1.0, "y": 4.0, "z": 0.0})
    assert graph.output.item() == pytest.approx(2.0)
    assert [t.gate.name for t, _, _ in graph.nodes] == ["maximum", "sigmoid", "mul"]


def test_values_must_match_the_variables():
    with pytest.raises(ExpressionError, match="no value given for z"):
        build(parse("x * z"), {"x": 1.0})
    with pytest.raises(ExpressionError, match="not in the expression: w"):
        build(parse("x * z"), {"x": 1.0, "z": 2.0, "w": 3.0})
