"""The backprop trace of an expression: every node's forward value, the upstream gradient
arriving at it, its local gradients (the gate table's formula, then with the numbers put
in) and what it sends on (upstream x local = downstream), with the patterns of the notes
named where they apply, the copy gate's sums written out, the points where a gate is not
differentiable (and the subgradient the engine takes there) and, in words, the points
where an expression is not defined.

Intermediate nodes are named as on the slides: q, r, s, ... and the output f, skipping
every letter that is or begins a variable's name (no node w beside the weights w0, w1).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..autodiff.backward import backward
from ..autodiff.gates import registered_gate
from . import formulas
from .expressions import BuiltGraph, Expression, build, parse

NODE_NAMES = "qrstuvwabcdghkmnp"
SYMBOLS = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
    "neg": "-x",
    "pow": "**",
    "pow_const": "**",
    "maximum": "max",
    "minimum": "min",
    "sigmoid": "σ",  # noqa: RUF001 - the sigmoid of the slides
}


class DomainError(ValueError):
    """The expression is not defined (or has no finite derivative) at the point given."""


@dataclass
class InputGradient:
    """What a node sends one of its inputs: d(node)/d(input) as the gate table writes it
    (``rule``), in the graph's names (``formula``), with the numbers put in
    (``substituted``), its value (``local``) and upstream x local = downstream."""

    input: str
    rule: str | None = None
    formula: str | None = None
    substituted: str | None = None
    local: float | None = None
    upstream: float | None = None
    downstream: float | None = None
    product: str | None = None


@dataclass
class Step:
    """One gate node of the graph: ``formula`` in terms of the nodes' names (q = x + y),
    ``expression`` in terms of the variables; ``chain`` one entry per input that gets a
    gradient; ``nondifferentiable`` says why and which subgradient, at a kink or tie."""

    name: str
    gate: str
    symbol: str
    formula: str
    expression: str
    inputs: list[str]
    value: float
    upstream: float = 0.0
    local: list[float | None] = field(default_factory=list)
    downstream: list[float | None] = field(default_factory=list)
    pattern: str | None = None
    rule_words: str | None = None
    chain: list[InputGradient] = field(default_factory=list)
    nondifferentiable: str | None = None


@dataclass
class CopySum:
    """A value used several times: the gradients it receives (``terms``, from the nodes
    ``sources``) add up to its gradient (``total``); ``text`` is 3 + 3 + 1 = 7."""

    terms: list[float]
    sources: list[str]
    total: float
    text: str


@dataclass
class Trace:
    expression: str
    gates: str
    at: dict[str, float]
    steps: list[Step]
    output: float
    gradients: dict[str, float]
    copies: dict[str, int]
    output_name: str = "f"
    sums: dict[str, CopySum] = field(default_factory=dict)
    nondifferentiable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def ancestors(self, name: str) -> set[str]:
        """The variables and nodes that ``name`` (a node) is computed from."""
        by_name = {step.name: step for step in self.steps}
        seen: set[str] = set()
        stack = [name]
        while stack:
            step = by_name.get(stack.pop())
            if step is None:
                continue
            for source in step.inputs:
                if source not in seen:
                    seen.add(source)
                    stack.append(source)
        return seen


def _clashes(name: str, variables: list[str]) -> bool:
    """True when ``name`` is a variable or the first letter of one (w beside w0)."""
    return any(v == name or v.startswith(name) for v in variables)


def _names(count: int, variables: list[str], output: str | None = None) -> list[str]:
    """q, r, s, ... skipping every letter that is or begins a variable's name, then
    node1, node2, ...; the last is the output: ``output`` if given, else f (or out)."""
    if output is None:
        output = next((n for n in ("f", "out", "result") if not _clashes(n, variables)), "f_output")
    pool = [c for c in NODE_NAMES if c != output and not _clashes(c, variables)]
    i = 1
    while len(pool) < count - 1:
        candidate = f"node{i}"
        if candidate not in variables and candidate != output:
            pool.append(candidate)
        i += 1
    return [*pool[: count - 1], output]


def _symbol(gate: str, inputs: list[str], constants: set[str]) -> str:
    """The gate as the notes label it: +, *, exp, 1/x, +1 (c + x), *a ..."""
    if gate == "div" and inputs[0] in constants and float(inputs[0]) == 1.0:
        return "1/x"
    if gate in ("add", "mul") and any(i in constants for i in inputs):
        constant = next(i for i in inputs if i in constants)
        return ("+" if gate == "add" else "*") + constant
    return SYMBOLS.get(gate, gate)


def formula(gate: str, inputs: list[str]) -> str:
    """The gate applied to its inputs' names, as the slides write it: q = x + y, f = q * z."""
    infix = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "pow_const": "**"}
    if gate in infix and len(inputs) == 2:
        return f"{inputs[0]} {infix[gate]} {inputs[1]}"
    if gate == "neg":
        return f"-{inputs[0]}"
    name = {"maximum": "max", "minimum": "min"}.get(gate, gate)
    return f"{name}({', '.join(inputs)})"


def trace(expression: str | Expression, at: dict[str, float], gates: str = "as-typed") -> Trace:
    """Evaluate ``expression`` at the point ``at`` and backpropagate, recording each step.
    Raises :class:`DomainError` where the expression is not defined (log of a negative
    number, division by zero, overflow) or has no finite derivative (sqrt at 0)."""
    parsed = parse(expression) if isinstance(expression, str) else expression
    graph = build(parsed, at, gates)
    return trace_graph(parsed, graph, at, gates)


def trace_graph(parsed: Expression, graph: BuiltGraph, at: dict[str, float], gates: str) -> Trace:
    names = _names(len(graph.nodes), parsed.variables, parsed.output_name)
    label_to_name = {f"#{i}": name for i, name in enumerate(names, start=1)}
    constants = {
        label
        for label in graph.labels.values()
        if label not in parsed.variables and not label.startswith("#")
    }

    def display(label: str) -> str:
        return label_to_name.get(label, label)

    point = {v: float(at[v]) for v in parsed.variables}  # in the order the expression names them
    steps: list[Step] = []
    index_of: dict[int, int] = {}
    for i, (tensor, inputs, text) in enumerate(graph.nodes):
        shown = [display(label) for label in inputs]
        gradient = tensor.gate.local_gradient
        steps.append(
            Step(
                name=names[i],
                gate=tensor.gate.name,
                symbol=_symbol(tensor.gate.name, shown, constants),
                formula=formula(tensor.gate.name, shown),
                expression=text,
                inputs=shown,
                value=float(tensor.item()),
                pattern=tensor.gate.pattern,
                rule_words=gradient.words if gradient is not None else None,
            )
        )
        index_of[id(tensor)] = i
    values = {**point, **{step.name: step.value for step in steps}}
    for constant in constants:
        values[constant] = float(constant)
    _check_domain(steps, values)

    uses = Counter(label for _, inputs, _ in graph.nodes for label in inputs)
    copies = {display(label): n for label, n in uses.items() if n > 1 and label not in constants}

    def hook(node, upstream, downstream) -> None:
        step = steps[index_of[id(node)]]
        ones = np.ones_like(upstream)
        local = node.gate.vjp(np, ones, node._saved, node._needs)  # d node / d input, scalars
        step.upstream = float(upstream)
        step.local = [
            None if g is None or not need else float(g)
            for g, need in zip(local, node._needs, strict=True)
        ]
        step.downstream = [None if g is None else float(g) for g in downstream]

    with np.errstate(all="ignore"):  # a non-finite local gradient is reported below, in words
        backward(graph.output, hook=hook)
    gradients = {
        name: float(leaf.grad) if leaf.grad is not None else 0.0
        for name, leaf in graph.leaves.items()
    }
    for step in steps:
        step.chain = _chain(step, values)
        step.nondifferentiable = _nondifferentiable(step, values)
    _check_derivatives(steps, values)
    totals = {**gradients, **{step.name: step.upstream for step in steps}}
    return Trace(
        expression=parsed.text,
        gates=gates,
        at=point,
        steps=steps,
        output=float(graph.output.item()),
        gradients=gradients,
        copies=copies,
        output_name=names[-1],
        sums=_sums(steps, copies, totals),
        nondifferentiable=[s.nondifferentiable for s in steps if s.nondifferentiable],
    )


def _chain(step: Step, values: dict[str, float]) -> list[InputGradient]:
    """For each input that gets a gradient: the formula, the numbers, upstream x local."""
    gradient = registered_gate(step.gate).local_gradient
    chain = []
    for position, local in enumerate(step.local):
        if local is None:
            continue
        entry = InputGradient(input=step.inputs[position], local=local, upstream=step.upstream)
        entry.downstream = step.downstream[position]
        if gradient is not None:
            bound = formulas.letters(gradient, step.inputs, step.name)
            entry.rule = formulas.rule(gradient, position)
            entry.formula = formulas.named(gradient, position, bound)
            entry.substituted = formulas.substituted(
                gradient, position, {k: values[v] for k, v in bound.items() if v in values}
            )
        if entry.downstream is not None:
            entry.product = formulas.product_text(step.upstream, local, entry.downstream)
        chain.append(entry)
    return chain


def _sums(steps: list[Step], copies: dict[str, int], totals: dict[str, float]) -> dict:
    """The copy gate: each value used several times, its gradients summed, written out."""
    sums = {}
    for name in copies:
        terms, sources = [], []
        for step in steps:
            for position, source in enumerate(step.inputs):
                received = step.downstream[position] if position < len(step.downstream) else None
                if source == name and received is not None:
                    terms.append(received)
                    sources.append(step.name)
        if len(terms) > 1:
            total = totals[name]
            sums[name] = CopySum(terms, sources, total, formulas.sum_text(terms, total))
    return sums


def _assignments(step: Step, values: dict[str, float], texts: dict[str, str]) -> str:
    """x = -1, or q = x - 3 = -2: the inputs of a step that are not constants."""
    shown = [
        f"{i} = {texts[i] + ' = ' if i in texts else ''}{formulas.short(values[i])}"
        for i in step.inputs
        if not _is_number(i)
    ]
    return ", ".join(shown) or "its constants"


def _is_number(label: str) -> bool:
    try:
        float(label)
    except ValueError:
        return False
    return True


def _nondifferentiable(step: Step, values: dict[str, float]) -> str | None:
    """At a kink (relu, abs at 0) or a tie (max, min of two equal inputs) the derivative
    does not exist: the words for the subgradient the engine takes there, or None."""
    inputs = [values.get(i) for i in step.inputs]
    if step.gate in ("maximum", "minimum") and inputs[0] == inputs[1]:
        a, b = step.inputs
        which = "max" if step.gate == "maximum" else "min"
        return (
            f"{step.name} = {step.formula} at a tie ({a} = {b} = {formulas.short(inputs[0])}): "
            f"{which} is not differentiable there (its slope is 1 on one side, 0 on the other); "
            f"the engine takes the subgradient that routes all of the gradient to the first "
            f"input, {a} (local gradients 1 and 0)"
        )
    if step.gate in ("relu", "abs") and inputs[0] == 0:
        left = "0" if step.gate == "relu" else "-1"
        return (
            f"{step.name} = {step.formula} at {step.inputs[0]} = 0: {step.gate} is not "
            f"differentiable there (slope {left} on the left, 1 on the right); the engine "
            "takes the subgradient 0"
        )
    return None


def _check_domain(steps: list[Step], values: dict[str, float]) -> None:
    """The first node whose value is not a finite number, from finite inputs, in words."""
    texts = {step.name: step.expression for step in steps}
    for step in steps:
        inputs = [values[i] for i in step.inputs]
        if np.isfinite(step.value) or not all(np.isfinite(inputs)):
            continue
        raise DomainError(
            f"{step.expression} is not defined at {_assignments(step, values, texts)}: "
            f"{_domain_reason(step.gate, inputs)} (node {step.name} = {step.formula})"
        )


def _domain_reason(gate: str, inputs: list[float]) -> str:
    x = inputs[0]
    if gate == "log":
        return "log takes positive numbers only" if x < 0 else "log(0) is minus infinity"
    if gate == "sqrt":
        return "sqrt takes numbers >= 0 only (the square root of a negative number is not real)"
    if gate == "div" and inputs[1] == 0:
        return "division by zero"
    if gate in ("pow", "pow_const") and x < 0:
        return "a negative number to a fractional power is not a real number"
    if gate in ("pow", "pow_const") and x == 0:
        return "0 to a negative power is infinite"
    return f"{gate} overflows: the result is larger than a float64 can hold (about 1.8e308)"


def _check_derivatives(steps: list[Step], values: dict[str, float]) -> None:
    """A local gradient that is not a finite number (sqrt at 0) has no slope to pass on."""
    texts = {step.name: step.expression for step in steps}
    for step in steps:
        for entry in step.chain:
            if entry.local is not None and not np.isfinite(entry.local):
                size = "infinite" if np.isinf(entry.local) else "not a number"
                raise DomainError(
                    f"{step.expression} has no finite derivative at "
                    f"{_assignments(step, values, texts)}: the local gradient "
                    f"d{step.name}/d{entry.input} = {entry.formula} = {entry.substituted} is "
                    f"{size} there (node {step.name} = {step.formula})"
                )


def pattern_notes(trace_: Trace) -> list[str]:
    """The notes' patterns in gradient flow, as they occur in this trace."""
    notes = []
    for step in trace_.steps:
        if step.pattern == "add distributes" and step.gate == "add":
            notes.append(
                f"{step.name} = {' + '.join(step.inputs)}: add distributes "
                f"{_num(step.upstream)} to each input"
            )
        elif step.pattern == "mul swaps":
            a, b = step.inputs
            notes.append(
                f"{step.name} = {a} * {b}: mul swaps, "
                f"d{step.name}/d{a} = {b} = {_num(step.local[0])}, "
                f"d{step.name}/d{b} = {a} = {_num(step.local[1])}"
            )
        elif step.pattern in ("max routes", "min routes") and step.gate in ("maximum", "minimum"):
            winner = step.inputs[0] if (step.local[0] or 0) != 0 else step.inputs[1]
            notes.append(
                f"{step.name} = {step.formula}: {step.pattern}, "
                f"all of {_num(step.upstream)} goes to {winner}"
            )
    for variable, count in trace_.copies.items():
        total = trace_.sums.get(variable)
        written = f": {total.text}" if total is not None else ""
        notes.append(
            f"{variable} is used {count} times: copy adds, its gradient is the sum "
            f"of the gradients it receives{written}"
        )
    return notes


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}"
