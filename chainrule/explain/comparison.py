"""The notes' three ways to get a gradient, side by side for an expression: automatic
differentiation (one backward pass for all variables), numerical differentiation
(central differences: two evaluations per variable, approximate) and, with sympy
installed, symbolic differentiation, whose expressions can grow large.

The sympy expression is built from the validated tree node by node, never from text,
so sympy's own parser (which evaluates Python) is not involved.
"""

from __future__ import annotations

import ast
import time
from dataclasses import asdict, dataclass
from typing import Any

from ..autodiff import numerical_grad
from .expressions import ARITHMETIC, Expression, build, parse


@dataclass
class GradientComparison:
    variable: str
    autodiff: float
    numerical: float
    abs_error: float
    symbolic: str | None = None
    symbolic_value: float | None = None
    symbolic_ops: int | None = None


@dataclass
class Comparison:
    expression: str
    at: dict[str, float]
    rows: list[GradientComparison]
    autodiff_seconds: float
    numerical_seconds: float
    symbolic_seconds: float | None
    symbolic_available: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _best_time(fn, repeat: int = 5) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def to_sympy(tree: ast.AST, sympy: Any, symbols: dict[str, Any]) -> Any:
    """The validated expression tree as a sympy expression."""
    if isinstance(tree, ast.Constant):
        return sympy.Integer(tree.value) if isinstance(tree.value, int) else sympy.Float(tree.value)
    if isinstance(tree, ast.Name):
        return symbols[tree.id]
    if isinstance(tree, ast.UnaryOp):
        operand = to_sympy(tree.operand, sympy, symbols)
        return -operand if isinstance(tree.op, ast.USub) else operand
    if isinstance(tree, ast.BinOp):
        a, b = to_sympy(tree.left, sympy, symbols), to_sympy(tree.right, sympy, symbols)
        return ARITHMETIC[type(tree.op)](a, b)
    if isinstance(tree, ast.Call):
        args = [to_sympy(a, sympy, symbols) for a in tree.args]
        functions = {
            "exp": sympy.exp,
            "log": sympy.log,
            "sqrt": sympy.sqrt,
            "abs": sympy.Abs,
            "tanh": sympy.tanh,
            "sigmoid": lambda x: 1 / (1 + sympy.exp(-x)),
            "relu": lambda x: sympy.Max(x, 0),
            "softplus": lambda x: sympy.log(1 + sympy.exp(x)),
            "max": sympy.Max,
            "min": sympy.Min,
        }
        return functions[tree.func.id](*args)
    raise ValueError(f"cannot convert {type(tree).__name__}")  # pragma: no cover


def compare(
    expression: str | Expression, at: dict[str, float], gates: str = "as-typed"
) -> Comparison:
    parsed = parse(expression) if isinstance(expression, str) else expression
    variables = parsed.variables

    def autodiff() -> list[float]:
        graph = build(parsed, at, gates)
        graph.output.backward()
        return [float(graph.leaves[v].grad) for v in variables]

    def function(*values):
        return build(
            parsed, dict(zip(variables, (float(v.item()) for v in values), strict=True)), gates
        ).output

    def numerical() -> list[float]:
        return [float(g) for g in numerical_grad(function, *[at[v] for v in variables])]

    auto_seconds, auto = _best_time(autodiff)
    numerical_seconds, numeric = _best_time(numerical)
    rows = [
        GradientComparison(v, a, n, abs(a - n))
        for v, a, n in zip(variables, auto, numeric, strict=True)
    ]
    symbolic_seconds = None
    try:
        import sympy
    except ImportError:
        sympy = None
    if sympy is not None:
        symbols = {v: sympy.Symbol(v) for v in variables}
        expr = to_sympy(parsed.rewritten(gates), sympy, symbols)

        def symbolic():
            return [sympy.diff(expr, symbols[v]) for v in variables]

        symbolic_seconds, derivatives = _best_time(symbolic, repeat=1)
        point = {symbols[v]: at[v] for v in variables}
        for row, derivative in zip(rows, derivatives, strict=True):
            row.symbolic = str(derivative)
            row.symbolic_ops = int(sympy.count_ops(derivative))
            try:
                row.symbolic_value = float(derivative.subs(point).evalf())
            except (TypeError, ValueError):
                row.symbolic_value = None
    return Comparison(
        expression=parsed.text,
        at=dict(at),
        rows=rows,
        autodiff_seconds=auto_seconds,
        numerical_seconds=numerical_seconds,
        symbolic_seconds=symbolic_seconds,
        symbolic_available=sympy is not None,
    )
