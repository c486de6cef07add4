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
    ("x = y = 1", "not a valid expression"),
    ("x += 1", "not a valid expression"),
    ("f = ", "nothing after 'f ='"),
    ("f = f * 2", "also a variable"),
    ("_f = x", "plain ASCII name"),
    ("1e400 * x", "finite"),
    ("(x := 2)", "assignment"),
    ("x @ y", "operator MatMult"),
    ("x // y", "operator FloorDiv"),
    ("not x", "only unary minus"),
    ("f'{x}'", "string"),
    ("exp(*x)", "plain arguments"),
    ("", "empty"),
    ("f = __import__('os').system('id')", "only the known functions can be called"),
    ("f = eval('1')", "unknown function 'eval'; known"),
    ("__f = x", "plain ASCII name"),
    ("f = x; y", "not a valid expression"),
    ("f = x.__class__", "attribute access"),
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


@pytest.mark.parametrize(
    ("text", "fix", "column"),
    [
        ("x^2", "write ** for powers, as in x**2", None),
        ("2x + 1", "write 2*x + 1", "column 2"),
        ("(x + y)z", "write (x + y)*z", "column 8"),
        ("x y", "write x*y", "column 3"),
        ("(x + 1)(x - 1)", "write (x + 1)*(x - 1)", None),
        ("2(x + 1)", "write 2*(x + 1)", None),
    ],
)
def test_a_students_habit_gets_the_fix_named(text, fix, column):
    with pytest.raises(ExpressionError) as error:
        parse(text)
    message = str(error.value)
    assert fix in message.splitlines()[0]
    if column:
        assert column in message
    lines = message.splitlines()
    if column:  # the caret points at the factor that needs its *
        assert lines[2][2:].index("^") == int(column.split()[1]) - 1
    assert "BitXor" not in message and "invalid decimal literal" not in message


def test_the_suggested_fix_parses_to_the_intended_expression():
    for text, intended in (("2x + 1", "2*x + 1"), ("(x + y)z", "(x + y)*z"), ("x^2", "x**2")):
        with pytest.raises(ExpressionError) as error:
            parse(text)
        assert intended in str(error.value)
        parse(intended)


def test_a_leading_name_equals_names_the_output():
    expression = parse("f = x + y")
    assert expression.output_name == "f" and expression.text == "x + y"
    assert expression.variables == ["x", "y"]
    assert parse("loss=(x - 1)**2").output_name == "loss"
    assert parse("x + y").output_name is None


def test_an_unknown_function_of_one_argument_suggests_a_product():
    with pytest.raises(ExpressionError, match=r"for a product write x \* \(\.\.\.\)"):
        parse("x(y + 1)")


def test_cli_parse_errors_are_one_line_with_the_fix(run_cli_raw):
    for text, fix in (("x^2", "x**2"), ("2x + 1", "2*x + 1"), ("(x + y)z", "(x + y)*z")):
        result = run_cli_raw("explain", text, "--at", "x=1,y=2" if "y" in text else "x=1")
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and fix in result.stderr
    result = run_cli_raw("explain", "f = x + y", "--at", "x=1,y=2")
    assert result.returncode == 0 and "f = x + y" in result.stdout
