"""The notes' three ways to get a gradient, side by side for an expression: automatic
differentiation (one backward pass for all variables), numerical differentiation
(approximate: the notes' one-sided forward differences (f(x + h) - f(x))/h, one more
evaluation per variable, error O(h); or central differences (f(x + h) - f(x - h))/(2h),
two per variable, error O(h^2)) and, with sympy installed, symbolic differentiation,
whose expressions can grow large.

Where the expression is not differentiable (a tie of max, relu at 0) the derivative does
not exist: autodiff gives the subgradient its gate takes, differences give the slope on
one side (forward) or the mean of both (central), and a row that disagrees says so.

The sympy expression is built from the validated tree node by node, never from text,
so sympy's own parser (which evaluates Python) is not involved.
"""

from __future__ import annotations

import ast
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..autodiff import no_grad, numerical_grad
from .expressions import ARITHMETIC, Expression, build, parse
from .tracing import trace

METHODS = {
    "forward": "forward differences (f(x + h) - f(x))/h, the notes' formula",
    "central": "central differences (f(x + h) - f(x - h))/(2h)",
}
STEP = 1e-6


@dataclass
class GradientComparison:
    variable: str
    autodiff: float
    numerical: float
    abs_error: float
    symbolic: str | None = None
    symbolic_value: float | None = None
    symbolic_ops: int | None = None
    note: str | None = None


@dataclass
class Comparison:
    expression: str
    at: dict[str, float]
    rows: list[GradientComparison]
    autodiff_seconds: float
    numerical_seconds: float
    symbolic_seconds: float | None
    symbolic_available: bool
    numerical_method: str = "central"
    numerical_formula: str = METHODS["central"]
    step: float = STEP
    nondifferentiable: list[str] = field(default_factory=list)

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
    expression: str | Expression,
    at: dict[str, float],
    gates: str = "as-typed",
    numerical: str = "central",
) -> Comparison:
    """Autodiff, numerical (``numerical``: "forward" or "central" differences, step
    ``STEP``) and symbolic gradients of ``expression`` at ``at``."""
    if numerical not in METHODS:
        raise ValueError(f"numerical must be one of {', '.join(METHODS)}, got {numerical!r}")
    parsed = parse(expression) if isinstance(expression, str) else expression
    variables = parsed.variables

    def autodiff() -> list[float]:
        graph = build(parsed, at, gates)
        with np.errstate(all="ignore"):
            graph.output.backward()
        return [float(graph.leaves[v].grad) for v in variables]

    def function(*values):
        return build(
            parsed, dict(zip(variables, (float(v.item()) for v in values), strict=True)), gates
        ).output

    def value_at(point: dict[str, float]) -> float:
        with no_grad():
            return float(build(parsed, point, gates).output.item())

    def forward_differences() -> list[float]:
        here = value_at(at)
        return [(value_at({**at, v: at[v] + STEP}) - here) / STEP for v in variables]

    def central_differences() -> list[float]:
        point = [at[v] for v in variables]
        with np.errstate(all="ignore"):
            return [float(g) for g in numerical_grad(function, *point, eps=STEP)]

    numerical_gradient = forward_differences if numerical == "forward" else central_differences

    auto_seconds, auto = _best_time(autodiff)
    numerical_seconds, numeric = _best_time(numerical_gradient)
    rows = [
        GradientComparison(v, a, n, abs(a - n))
        for v, a, n in zip(variables, auto, numeric, strict=True)
    ]
    traced = trace(parsed, at, gates)
    for row in rows:
        row.note = _disagreement(row, traced, numerical)
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
        numerical_method=numerical,
        numerical_formula=METHODS[numerical],
        step=STEP,
        nondifferentiable=traced.nondifferentiable,
    )


def _disagreement(row: GradientComparison, traced: Any, method: str) -> str | None:
    """Why autodiff and the differences disagree for ``row``'s variable, when it is a
    point where a gate on its path is not differentiable; None when they agree."""
    if row.abs_error <= 1e-4 * max(1.0, abs(row.autodiff), abs(row.numerical)):
        return None
    kinks = [
        step
        for step in traced.steps
        if step.nondifferentiable and row.variable in traced.ancestors(step.name)
    ]
    if not kinks:
        return None
    where = "; ".join(f"{step.name} = {step.formula}" for step in kinks)
    seen = (
        f"the slope on the right only ({row.variable} + h)"
        if method == "forward"
        else "the mean of the slopes on the left and on the right"
    )
    return (
        f"not an error: {where} is not differentiable at this point, so d/d{row.variable} "
        f"does not exist; autodiff gives the subgradient the gate takes, {method} differences "
        f"give {seen}"
    )
