"""Safe expressions: text such as ``(x + y) * z`` or ``1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))``
turned into a graph of chainrule gates.

Python's ``ast`` parses the text; a whitelist then accepts only numbers, variable names,
``+ - * / **``, unary minus and calls to a few known functions.  Anything else is
refused with a message that points at the offending part, and names the fix where a
student's habit is the cause: ``x^2`` (write ``x**2``), ``2x`` or ``(x + y)z`` (write the
``*``).  A leading ``f =`` names the output.  Nothing is ever evaluated by Python: no
``eval``, no ``exec``, no attribute or name lookup.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import autodiff as ad
from ..autodiff import Tensor

MAX_LENGTH = 1000
MAX_DEPTH = 60
MAX_NODES = 400
MAX_CONSTANT = 1e15

UNARY = {
    "exp": ad.exp,
    "log": ad.log,
    "sqrt": ad.sqrt,
    "abs": ad.abs,
    "sigmoid": ad.sigmoid,
    "tanh": ad.tanh,
    "relu": ad.relu,
    "softplus": ad.softplus,
}
BINARY = {"max": ad.maximum, "min": ad.minimum}
FUNCTIONS = (*UNARY, *BINARY)
OPERATORS: dict[type, str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
}
GATE_MODES = ("as-typed", "compact", "elementary")


class ExpressionError(ValueError):
    """The text is not an expression chainrule accepts; the message shows where."""


def _point(text: str, node: ast.AST | None, message: str) -> ExpressionError:
    if node is None or not hasattr(node, "col_offset"):
        return ExpressionError(message)
    start = node.col_offset
    end = getattr(node, "end_col_offset", None) or start + 1
    if getattr(node, "end_lineno", 1) != 1:
        end = len(text)
    caret = " " * start + "^" * max(1, end - start)
    return ExpressionError(f"{message}\n  {text}\n  {caret}")


@dataclass
class Expression:
    """A parsed, validated expression: its text, tree and variables (in order of use)."""

    text: str
    tree: ast.expr
    variables: list[str] = field(default_factory=list)
    output_name: str | None = None

    def rewritten(self, gates: str) -> ast.expr:
        """The tree with sigmoid folded into one gate (compact) or expanded into
        negate, exp, add 1 and reciprocal (elementary); as typed otherwise."""
        if gates not in GATE_MODES:
            raise ValueError(f"gates must be one of {', '.join(GATE_MODES)}, got {gates!r}")
        if gates == "compact":
            return _Compact().visit(_copy(self.tree))
        if gates == "elementary":
            return _Elementary().visit(_copy(self.tree))
        return self.tree


_OUTPUT_NAME = re.compile(r"\s*([A-Za-z_]\w*)\s*=(?!=)")


def parse(text: str) -> Expression:
    """Parse and validate ``text``; raise ExpressionError pointing at what is refused.
    A leading ``NAME =`` (``f = x + y``) names the output node."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression is text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}"
        )
    if "\n" in text or "\r" in text:
        raise ExpressionError("an expression is one line")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    output_name = None
    named = _OUTPUT_NAME.match(text)
    if named:
        output_name = named.group(1)
        text = text[named.end() :]
        if not text.strip():
            raise ExpressionError(f"nothing after '{output_name} =': write the expression")
    stripped = text.strip()
    try:
        module = ast.parse(stripped, mode="eval")
    except SyntaxError as error:
        raise _syntax_error(stripped, error) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("the expression is nested too deeply") from None
    validator = _Validator(stripped)
    validator.check(module.body, depth=0)
    if output_name is not None:
        _check_output_name(output_name, validator.variables)
    return Expression(stripped, module.body, validator.variables, output_name)


def _check_output_name(name: str, variables: list[str]) -> None:
    if name.startswith("_") or not name.isascii():
        raise ExpressionError(
            f"the output name '{name}' must be a plain ASCII name, not starting with _"
        )
    if name in FUNCTIONS:
        raise ExpressionError(f"the output name '{name}' is a function's name; choose another")
    if name in variables:
        raise ExpressionError(
            f"the output name '{name}' is also a variable of the expression; choose another"
        )


# A number or a name, or any other single character: enough to spot implicit products.
_TOKEN = re.compile(
    r"(?P<number>(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)|(?P<name>[A-Za-z_]\w*)|(?P<other>\S)"
)


def implicit_products(text: str) -> list[int]:
    """Where a * is missing between two factors: the offsets of the second factor in
    ``2x``, ``(x + y)z``, ``(x + 1)(x - 1)``, ``2(x + 1)``, ``x y``."""
    positions = []
    previous = None
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        token = match.group()
        ends_factor = previous in ("number", "name", ")")
        starts_factor = kind in ("number", "name") or token == "("
        if ends_factor and starts_factor and not (previous == "name" and token == "("):
            positions.append(match.start())
        previous = kind if kind != "other" else token
    return positions


def _with_products(text: str) -> str | None:
    """``text`` with a * at each implicit product, if there are any and it then parses."""
    positions = implicit_products(text)
    fixed = text
    for position in reversed(positions):
        fixed = fixed[:position].rstrip() + "*" + fixed[position:]
    return fixed if positions and _parses(fixed) else None


def _syntax_error(text: str, error: SyntaxError) -> ExpressionError:
    """Python's syntax error, with the fix where the text has implicit products."""
    fixed = _with_products(text)
    if fixed is not None:
        positions = implicit_products(text)
        where = ", ".join(f"column {p + 1}" for p in positions)
        caret = "".join("^" if i in positions else " " for i in range(max(positions) + 1))
        return ExpressionError(
            f"a product needs its * ({where}): write {fixed}\n  {text}\n  {caret}"
        )
    offset = max((error.offset or 1) - 1, 0)
    return ExpressionError(f"not a valid expression: {error.msg}\n  {text}\n  {' ' * offset}^")


def _parses(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return False
    return True


class _Validator:
    def __init__(self, text: str) -> None:
        self.text = text
        self.variables: list[str] = []
        self.count = 0

    def refuse(self, node: ast.AST, message: str) -> ExpressionError:
        return _point(self.text, node, message)

    def check(self, node: ast.AST, depth: int) -> None:
        self.count += 1
        if depth > MAX_DEPTH:
            raise self.refuse(node, f"the expression is nested more than {MAX_DEPTH} levels deep")
        if self.count > MAX_NODES:
            raise self.refuse(node, f"the expression has more than {MAX_NODES} parts")
        if isinstance(node, ast.Constant):
            self.check_constant(node)
        elif isinstance(node, ast.Name):
            self.check_name(node)
        elif isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.BitXor):
                raise self.refuse(
                    node,
                    "^ is not a power here (in Python it is bitwise xor): write ** for powers, "
                    f"as in {self.text.replace('^', '**')}",
                )
            if type(node.op) not in OPERATORS:
                raise self.refuse(
                    node, f"the operator {type(node.op).__name__} is not allowed; use + - * / **"
                )
            if isinstance(node.op, ast.Pow) and any(
                isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in ast.walk(node.right)
            ):
                raise self.refuse(node, "nested powers (a ** b ** c) are not allowed")
            self.check(node.left, depth + 1)
            self.check(node.right, depth + 1)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise self.refuse(node, "only unary minus is allowed")
            self.check(node.operand, depth + 1)
        elif isinstance(node, ast.Call):
            self.check_call(node, depth)
        else:
            raise self.refuse(node, f"{_describe(node)} is not allowed in an expression")

    def check_constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.refuse(
                node, f"only numbers are allowed as constants, not {type(value).__name__}"
            )
        if isinstance(value, int) and value.bit_length() > 64:
            raise self.refuse(node, "this number is too large")
        if not math.isfinite(float(value)) or abs(value) > MAX_CONSTANT:
            raise self.refuse(
                node, f"constants must be finite and at most {MAX_CONSTANT:g} in size"
            )

    def check_name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("_"):
            raise self.refuse(node, "names starting with an underscore are not allowed")
        if name in FUNCTIONS:
            raise self.refuse(node, f"'{name}' is a function: call it, as in {name}(x)")
        if not name.isascii() or not name.isidentifier():
            raise self.refuse(node, "variable names are plain ASCII identifiers")
        if name not in self.variables:
            self.variables.append(name)

    def check_call(self, node: ast.Call, depth: int) -> None:
        if isinstance(node.func, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.Call)):
            fixed = _with_products(self.text)  # 2(x + 1), (x + 1)(x - 1): a missing *
            if fixed is not None:
                raise self.refuse(node, f"a product needs its *: write {fixed}")
        if not isinstance(node.func, ast.Name):
            raise self.refuse(
                node.func, "only the known functions can be called: " + ", ".join(FUNCTIONS)
            )
        name = node.func.id
        if name not in FUNCTIONS:
            product = ""
            if len(name) <= 3 and not name.startswith("_") and len(node.args) == 1:
                product = f"; for a product write {name} * (...)"
            raise self.refuse(
                node.func, f"unknown function '{name}'{product}; known: {', '.join(FUNCTIONS)}"
            )
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.refuse(node, f"{name}() takes plain arguments only")
        expected = 2 if name in BINARY else 1
        if len(node.args) != expected:
            raise self.refuse(
                node,
                f"{name}() takes {expected} argument(s), got {len(node.args)}",
            )
        for argument in node.args:
            self.check(argument, depth + 1)


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Subscript: "a subscript",
        ast.Lambda: "a lambda",
        ast.ListComp: "a comprehension",
        ast.GeneratorExp: "a comprehension",
        ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension",
        ast.Compare: "a comparison",
        ast.BoolOp: "a boolean operator",
        ast.IfExp: "a conditional expression",
        ast.Tuple: "a tuple",
        ast.List: "a list",
        ast.Dict: "a dict",
        ast.Set: "a set",
        ast.JoinedStr: "a string",
        ast.NamedExpr: "an assignment",
        ast.Await: "await",
        ast.Yield: "yield",
        ast.Starred: "unpacking",
    }
    return names.get(type(node), type(node).__name__)


def _copy(tree: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(tree), mode="eval").body


def _is_number(node: ast.AST, value: float) -> bool:
    return (
        isinstance(node, ast.Constant) and not isinstance(node.value, bool) and node.value == value
    )


class _Compact(ast.NodeTransformer):
    """1 / (1 + exp(-E)) becomes sigmoid(E): one gate with local gradient (1 - s) s."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Div) and _is_number(node.left, 1):
            denominator = node.right
            if isinstance(denominator, ast.BinOp) and isinstance(denominator.op, ast.Add):
                for one, other in (
                    (denominator.left, denominator.right),
                    (denominator.right, denominator.left),
                ):
                    if _is_number(one, 1) and _is_exp_of_negative(other):
                        inner = other.args[0].operand
                        return ast.Call(ast.Name("sigmoid", ast.Load()), [inner], [])
        return node


def _is_exp_of_negative(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "exp"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.UnaryOp)
        and isinstance(node.args[0].op, ast.USub)
    )


class _Elementary(ast.NodeTransformer):
    """sigmoid(E) becomes 1 / (1 + exp(-E)): negate, exp, add 1, reciprocal."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "sigmoid":
            negative = ast.UnaryOp(ast.USub(), node.args[0])
            exp = ast.Call(ast.Name("exp", ast.Load()), [negative], [])
            return ast.BinOp(ast.Constant(1), ast.Div(), ast.BinOp(ast.Constant(1), ast.Add(), exp))
        return node


@dataclass
class BuiltGraph:
    """The gates an expression made: the output, the variables' leaves, and for each gate
    node (forward order) its tensor, its inputs' labels and its sub-expression."""

    output: Tensor
    leaves: dict[str, Tensor]
    nodes: list[tuple[Tensor, list[str], str]]
    labels: dict[int, str]


def build(expression: Expression, values: dict[str, float], gates: str = "as-typed") -> BuiltGraph:
    """Evaluate the expression with chainrule gates in float64 at ``values``."""
    missing = [v for v in expression.variables if v not in values]
    if missing:
        raise ExpressionError(f"no value given for {', '.join(missing)}")
    unknown = [v for v in values if v not in expression.variables]
    if unknown:
        raise ExpressionError(f"not in the expression: {', '.join(unknown)}")
    leaves = {
        name: ad.tensor(float(values[name]), requires_grad=True) for name in expression.variables
    }
    labels: dict[int, str] = {id(t): name for name, t in leaves.items()}
    nodes: list[tuple[Tensor, list[str], str]] = []
    # every labelled constant is kept alive: labels are keyed by id, and a constant that a
    # gate took as a number (x ** 3) would otherwise be freed and its id given to the next
    # node, which would then pass for the constant and go unrecorded
    constants: list[Tensor] = []
    tree = expression.rewritten(gates)

    def label_of(t: Tensor, node: ast.AST) -> str:
        if id(t) not in labels:
            labels[id(t)] = ast.unparse(node)  # a constant
            constants.append(t)
        return labels[id(t)]

    def record(result: Tensor, inputs: list[tuple[Tensor, ast.AST]], node: ast.AST) -> Tensor:
        if result.gate is not None and id(result) not in labels:
            nodes.append((result, [label_of(t, n) for t, n in inputs], ast.unparse(node)))
            labels[id(result)] = f"#{len(nodes)}"
        return result

    def visit(node: ast.AST) -> Tensor:
        if isinstance(node, ast.Constant):
            return ad.tensor(float(node.value))
        if isinstance(node, ast.Name):
            return leaves[node.id]
        if isinstance(node, ast.UnaryOp):
            operand = visit(node.operand)
            if isinstance(node.op, ast.UAdd):
                return operand
            return record(-operand, [(operand, node.operand)], node)
        if isinstance(node, ast.BinOp):
            left, right = visit(node.left), visit(node.right)
            op: Callable[[Any, Any], Tensor] = _BINARY_OPERATORS[type(node.op)]
            return record(op(left, right), [(left, node.left), (right, node.right)], node)
        if isinstance(node, ast.Call):
            name = node.func.id  # validated
            args = [visit(a) for a in node.args]
            function = UNARY.get(name) or BINARY[name]
            return record(function(*args), list(zip(args, node.args, strict=True)), node)
        raise ExpressionError(f"cannot evaluate {_describe(node)}")  # pragma: no cover

    with np.errstate(all="ignore"):
        output = visit(tree)
    if output.gate is None and ad.is_grad_enabled():  # numerical_grad evaluates under no_grad
        raise ExpressionError(
            "the expression has no operation to differentiate: write one, as in x * y"
        )
    return BuiltGraph(output, leaves, nodes, labels)


def _power(base: Tensor, exponent: Tensor) -> Tensor:
    if exponent.gate is None and not exponent.requires_grad:
        return base ** float(exponent.item())  # the pow_const gate: a ** p
    return base**exponent


ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_BINARY_OPERATORS = {**ARITHMETIC, ast.Pow: _power}
